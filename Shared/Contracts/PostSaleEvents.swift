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
        requestId: "PV-2026-002918", flow: .suspension, reason: "Solicitud ingresada por WhatsApp", missing: [],
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

    public var correlationKey: String? { requestId }

    public static let example = PostSaleRequestCompleted(
        requestId: "PV-2026-002918", flow: .suspension, reason: "Suspensión temporal aplicada", missing: [],
        details: ["from": "2026-12-01", "to": "2027-02-28"])
}

/// `postsale.request-rejected`: the request breaks a rule (e.g. a second suspension in a year).
@Contract("a post-sale request was rejected")
public struct PostSaleRequestRejected: Event {
    public static let type = "postsale.request-rejected"

    /// The post-sale request.
    @Field(.identifier) public var requestId: String
    /// Its flow.
    @Field(.typeDescription) public var flow: PostSaleFlow
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
        requestId: "PV-2026-003115", flow: .suspension,
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
