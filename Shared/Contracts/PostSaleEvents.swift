import Foundation

// Facts of enterprise post-sale requests (GC-PRC-OPE-ASE-04), published on `ot.events`.
//
// All four share one shape: the request and its flow, plus optional `reason` (why it was
// rejected), `missing` (requirements to complete) and flow-specific `details`.

extension JSONSchema {
    static func postSaleEvent(_ description: String) -> JSONSchema {
        .object(
            [
                "requestId": .required(.identifier("the post-sale request")),
                "flow": .required(.enumeration(PostSaleFlow.self)),
                "reason": .optional(.string("why, for rejections")),
                "missing": .optional(.array(of: .string(), "requirements the customer must still provide")),
                "details": .optional(.freeformObject(description: "flow-specific fields")),
            ], description: description)
    }
}

/// `postsale.request-received`: a post-sale request was entered.
public struct PostSaleRequestReceived: Event {
    public static let type = "postsale.request-received"

    /// The request.
    public var requestId: String
    /// Its flow.
    public var flow: PostSaleFlow
    /// Not used on receipt; present for symmetry with the other post-sale events.
    public var reason: String?
    /// Requirements still missing.
    public var missing: [String]?
    /// Flow-specific fields.
    public var details: JSONObject?

    /// Creates the event.
    public init(
        requestId: String,
        flow: PostSaleFlow,
        reason: String? = nil,
        missing: [String]? = nil,
        details: JSONObject? = nil
    ) {
        self.requestId = requestId
        self.flow = flow
        self.reason = reason
        self.missing = missing
        self.details = details
    }

    public var correlationKey: String? { requestId }

    public static let schema: JSONSchema = .postSaleEvent("a post-sale request was received")

    public static let example = PostSaleRequestReceived(
        requestId: "PV-2026-002918", flow: .suspension, reason: "Solicitud ingresada por WhatsApp", missing: [],
        details: RequestPostSale.example.details)
}

/// `postsale.request-completed`: the flow finished (the quality-control call follows).
public struct PostSaleRequestCompleted: Event {
    public static let type = "postsale.request-completed"

    /// The request.
    public var requestId: String
    /// Its flow.
    public var flow: PostSaleFlow
    /// A note on how it ended.
    public var reason: String?
    /// Always empty or absent on completion.
    public var missing: [String]?
    /// Flow-specific results (new plan, suspension dates, …).
    public var details: JSONObject?

    /// Creates the event.
    public init(
        requestId: String,
        flow: PostSaleFlow,
        reason: String? = nil,
        missing: [String]? = nil,
        details: JSONObject? = nil
    ) {
        self.requestId = requestId
        self.flow = flow
        self.reason = reason
        self.missing = missing
        self.details = details
    }

    public var correlationKey: String? { requestId }

    public static let schema: JSONSchema = .postSaleEvent("a post-sale request was completed")

    public static let example = PostSaleRequestCompleted(
        requestId: "PV-2026-002918", flow: .suspension, reason: "Suspensión temporal aplicada", missing: [],
        details: ["from": "2026-12-01", "to": "2027-02-28"])
}

/// `postsale.request-rejected`: the request breaks a rule (e.g. a second suspension in a year).
public struct PostSaleRequestRejected: Event {
    public static let type = "postsale.request-rejected"

    /// The request.
    public var requestId: String
    /// Its flow.
    public var flow: PostSaleFlow
    /// Why it was rejected.
    public var reason: String?
    /// Requirements that were missing, if that is why.
    public var missing: [String]?
    /// Flow-specific context.
    public var details: JSONObject?

    /// Creates the event.
    public init(
        requestId: String,
        flow: PostSaleFlow,
        reason: String? = nil,
        missing: [String]? = nil,
        details: JSONObject? = nil
    ) {
        self.requestId = requestId
        self.flow = flow
        self.reason = reason
        self.missing = missing
        self.details = details
    }

    public var correlationKey: String? { requestId }

    public static let schema: JSONSchema = .postSaleEvent("a post-sale request was rejected")

    public static let example = PostSaleRequestRejected(
        requestId: "PV-2026-003115", flow: .suspension,
        reason: "Ya se aplicó una suspensión temporal en el año calendario", missing: [],
        details: ["previousSuspension": "2026-03-01"])
}

/// `postsale.request-requirements-missing`: the customer must complete the requirements first.
public struct PostSaleRequirementsMissing: Event {
    public static let type = "postsale.request-requirements-missing"

    /// The request.
    public var requestId: String
    /// Its flow.
    public var flow: PostSaleFlow
    /// A note for the executive.
    public var reason: String?
    /// What the customer must still provide.
    public var missing: [String]?
    /// Flow-specific context.
    public var details: JSONObject?

    /// Creates the event.
    public init(
        requestId: String,
        flow: PostSaleFlow,
        reason: String? = nil,
        missing: [String]? = nil,
        details: JSONObject? = nil
    ) {
        self.requestId = requestId
        self.flow = flow
        self.reason = reason
        self.missing = missing
        self.details = details
    }

    public var correlationKey: String? { requestId }

    public static let schema: JSONSchema = .postSaleEvent("a post-sale request lacks requirements")

    public static let example = PostSaleRequirementsMissing(
        requestId: "PV-2026-003201", flow: .withdrawal, reason: "Falta la carta de solicitud firmada",
        missing: ["requestLetter", "accountsUpToDate"], details: ["contractId": "CT-2019-33710"])
}
