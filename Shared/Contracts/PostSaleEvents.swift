import Foundation

// Facts of enterprise post-sale requests (GC-PRC-OPE-ASE-04), published on `ot.events`.
//
// All four share one shape: the request and its flow, plus optional `reason` (why it was
// rejected), `missing` (requirements to complete) and flow-specific `details`. The first
// paragraph of each field's comment is its published description, the same in all four.

/// `postsale.request-received`: a post-sale request was entered.
@Contract("a post-sale request was received")
public struct PostSaleRequestReceived: Event {
    public static let type = "postsale.request-received"

    /// The post-sale request.
    @Field(.identifier) public var requestId: String
    /// Its flow.
    @Field(.typeDescription) public var flow: PostSaleFlow
    /// The contract concerned.
    @Field(.identifier) public var contractId: String
    /// When the request was received (its KPI timeliness counts from then).
    public var receivedAt: Date
    /// Why, for rejections.
    ///
    /// Not used on receipt; present for symmetry with the other post-sale events.
    public var reason: String?
    /// Requirements the customer must still provide.
    public var missing: [String]?
    /// Flow-specific fields.
    public var details: JSONObject?

    public var correlationKey: String? { requestId }

    public static let example = PostSaleRequestReceived(
        requestId: "PV-2026-002918", flow: .suspension, contractId: "CT-2019-33710",
        receivedAt: ExampleTime.at("2026-11-24T13:05:00Z"), reason: "Solicitud ingresada por WhatsApp", missing: [],
        details: RequestPostSale.example.details)
}

/// `postsale.request-completed`: the flow finished (the quality-control call follows).
@Contract("a post-sale request was completed")
public struct PostSaleRequestCompleted: Event {
    public static let type = "postsale.request-completed"

    /// The post-sale request.
    @Field(.identifier) public var requestId: String
    /// Its flow.
    @Field(.typeDescription) public var flow: PostSaleFlow
    /// When it completed (after the quality-control call).
    public var completedAt: Date
    /// What the quality-control call found: the service works and the client agrees.
    public var qualityOk: Bool
    /// Why, for rejections.
    ///
    /// On completion, a note on how it ended.
    public var reason: String?
    /// Requirements the customer must still provide.
    ///
    /// Always empty or absent on completion.
    public var missing: [String]?
    /// Flow-specific fields.
    ///
    /// The results: new plan, suspension dates, …
    public var details: JSONObject?
    /// The request's contract (optional, added).
    @Field(.identifier) public var contractId: String?
    /// The request's documents, for its file in records (optional, added).
    @Field(.typeDescription) public var documents: [Document]?

    public var correlationKey: String? { requestId }

    public static let example = PostSaleRequestCompleted(
        requestId: "PV-2026-002918", flow: .suspension, completedAt: ExampleTime.at("2026-11-24T16:40:00Z"), qualityOk: true,
        reason: "Suspensión temporal aplicada", missing: [],
        details: ["from": "2026-12-01", "to": "2027-02-28"], contractId: "CT-2019-00871",
        documents: [
            Document(
                kind: .requestLetter, uri: "s3://ot-docs/C-5531/PV-2026-002918/carta.pdf",
                sha256: "3b8f1c0d2e4a6b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e")
        ])
}

/// `postsale.request-rejected`: the request breaks a rule (e.g. a second suspension in a year).
@Contract("a post-sale request was rejected")
public struct PostSaleRequestRejected: Event {
    public static let type = "postsale.request-rejected"

    /// The post-sale request.
    @Field(.identifier) public var requestId: String
    /// Its flow.
    @Field(.typeDescription) public var flow: PostSaleFlow
    /// Why the procedure turns it down: `suspensionAlreadyThisYear`, `suspensionTooLong`,
    /// `accountNotUpToDate`, `notFeasible`, `penaltyRefused`, `retained`, `abandoned`,
    /// `unknownContract`, `unknownProduct`, …
    @Field(.identifier) public var code: String
    /// Why, for rejections.
    public var reason: String?
    /// Requirements the customer must still provide.
    ///
    /// The requirements that were missing, if that is why.
    public var missing: [String]?
    /// Flow-specific fields.
    ///
    /// Context of the rejection.
    public var details: JSONObject?

    public var correlationKey: String? { requestId }

    public static let example = PostSaleRequestRejected(
        requestId: "PV-2026-003115", flow: .suspension, code: "suspensionAlreadyThisYear",
        reason: "Ya se aplicó una suspensión temporal en el año calendario", missing: [],
        details: ["previousSuspension": "2026-03-01"])
}

/// `postsale.request-requirements-missing`: the customer must complete the requirements first.
@Contract("a post-sale request lacks requirements")
public struct PostSaleRequirementsMissing: Event {
    public static let type = "postsale.request-requirements-missing"

    /// The post-sale request.
    @Field(.identifier) public var requestId: String
    /// Its flow.
    @Field(.typeDescription) public var flow: PostSaleFlow
    /// Why, for rejections.
    ///
    /// Here, a note for the executive.
    public var reason: String?
    /// Requirements the customer must still provide.
    public var missing: [String]?
    /// Flow-specific fields.
    ///
    /// Context for the executive.
    public var details: JSONObject?

    public var correlationKey: String? { requestId }

    public static let example = PostSaleRequirementsMissing(
        requestId: "PV-2026-003201", flow: .withdrawal, reason: "Falta la carta de solicitud firmada",
        missing: ["requestLetter", "accountsUpToDate"], details: ["contractId": "CT-2019-33710"])
}

/// `postsale.quality-check-requested`: the flow's own steps are done; the executive's
/// quality-control call is due.
@Contract("a post-sale request awaits its quality-control call")
public struct PostSaleQualityCheckRequested: Event {
    public static let type = "postsale.quality-check-requested"

    /// The post-sale request.
    @Field(.identifier) public var requestId: String
    /// Its flow.
    @Field(.typeDescription) public var flow: PostSaleFlow
    /// When the call should be made by (24 h after the steps were done).
    public var dueBy: Date?
    /// What was done, for the executive's call.
    public var details: JSONObject?

    public var correlationKey: String? { requestId }

    public static let example = PostSaleQualityCheckRequested(
        requestId: "PV-2026-002918", flow: .suspension, dueBy: ExampleTime.at("2026-11-25T13:10:00Z"),
        details: ["from": "2026-12-01", "to": "2027-02-28"])
}

/// `postsale.service-suspended`: a temporary suspension was accepted (at most once a calendar
/// year, at most four months).
@Contract("products were suspended temporarily")
public struct ServiceSuspended: Event {
    public static let type = "postsale.service-suspended"

    /// The post-sale request.
    @Field(.identifier) public var requestId: String
    /// The contract.
    @Field(.identifier) public var contractId: String
    /// The products suspended.
    public var productIds: [String]
    /// First suspended day.
    public var from: Day
    /// Last suspended day (the service is back the day after).
    public var to: Day

    public var correlationKey: String? { requestId }

    public static let example = ServiceSuspended(
        requestId: "PV-2026-002918", contractId: "CT-2019-33710", productIds: ["LIN-4251187", "INT-4410982"],
        from: Day(2026, 12, 1)!, to: Day(2027, 2, 28)!)
}

/// How a product comes back after a suspension (seed D step 8.1).
public enum ReconnectionHow: String, Codable, Sendable, CaseIterable {
    /// At once, by the system (internet and line; everything on fiber).
    case automatic
    /// Cable TV on copper: within 24 hours.
    case within24h
}

/// One product back in service.
@Contract("a product back in service")
public struct ReconnectedProduct: Codable, Sendable, Equatable, Hashable {
    /// Product id.
    @Field(.identifier) public var id: String
    /// Automatic, or within 24 h.
    @Field(.typeDescription) public var how: ReconnectionHow
}

/// `postsale.service-reconnected`: suspended products are back (at the suspension's end, or
/// earlier on a reconnection request).
@Contract("suspended products were reconnected")
public struct ServiceReconnected: Event {
    public static let type = "postsale.service-reconnected"

    /// The post-sale request (the reconnection, or the suspension that ended).
    @Field(.identifier) public var requestId: String
    /// The contract.
    @Field(.identifier) public var contractId: String
    /// The products, each with how it comes back.
    public var products: [ReconnectedProduct]
    /// The day they are back.
    public var on: Day

    public var correlationKey: String? { requestId }

    public static let example = ServiceReconnected(
        requestId: "PV-2026-002918", contractId: "CT-2019-33710",
        products: [ReconnectedProduct(id: "LIN-4251187", how: .automatic), ReconnectedProduct(id: "TV-1190022", how: .within24h)],
        on: Day(2027, 3, 1)!)
}
