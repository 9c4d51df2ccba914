import Foundation
import Runtime

// What the console's pages and API show: plain values read from its read model. The pages
// (`Pages`) render them; the API encodes them as JSON (``Wire`` dates: RFC 3339 UTC).

/// The signed-in person a page is rendered for.
public struct Viewer: Sendable, Equatable {
    public var name: String
    public var role: Role
    /// The anti-forgery token every form of this session must carry (`_csrf`).
    public var csrf: String

    public init(name: String, role: Role, csrf: String) {
        self.name = name
        self.role = role
        self.csrf = csrf
    }
}

/// What a user may do: viewers look, operators also send commands, admins also replay dead
/// letters. Ordered: each role may do all that the ones before it may.
public enum Role: String, Sendable, Codable, CaseIterable, Comparable {
    case viewer, `operator`, admin

    public static func < (a: Role, b: Role) -> Bool { a.rank < b.rank }
    var rank: Int {
        switch self {
        case .viewer: 0
        case .operator: 1
        case .admin: 2
        }
    }
}

/// One OT as the board lists it.
public struct BoardRow: Sendable, Equatable, Codable {
    public var workOrderId: String
    /// The OT number commercial gave it (`OT-2026-000123`), once opened.
    public var number: String?
    /// The work-order state (`opened`, `approvalPending`, `approved`, `dispatched`, `assigned`, `attended`, `closed`, `rejected`, `cancelled`).
    public var status: String
    public var kind: String?
    public var serviceLine: String?
    /// `BO`, `CL`, `CO`.
    public var country: String?
    public var customer: String?
    /// Priority level 1 (most urgent) … 4; nil until dispatched or prioritized.
    public var level: Int?
    /// The deadline the OT is working against now (the earliest still pending), and what it is
    /// (`priority`, `contact`, `due`).
    public var deadline: Date?
    public var deadlineWhat: String?
    /// The SLA breaches reported (`contact`, `due`, `priority`).
    public var breaches: [String]
    /// The assignee's name, once assigned.
    public var assignee: String?
    public var openedAt: Date?
    public var updatedAt: Date

    public init(
        workOrderId: String, number: String? = nil, status: String, kind: String? = nil, serviceLine: String? = nil,
        country: String? = nil, customer: String? = nil, level: Int? = nil, deadline: Date? = nil, deadlineWhat: String? = nil,
        breaches: [String] = [], assignee: String? = nil, openedAt: Date? = nil, updatedAt: Date
    ) {
        self.workOrderId = workOrderId
        self.number = number
        self.status = status
        self.kind = kind
        self.serviceLine = serviceLine
        self.country = country
        self.customer = customer
        self.level = level
        self.deadline = deadline
        self.deadlineWhat = deadlineWhat
        self.breaches = breaches
        self.assignee = assignee
        self.openedAt = openedAt
        self.updatedAt = updatedAt
    }

    /// Whether an SLA was breached, or the deadline has passed by `now`.
    public func isBreached(now: Date) -> Bool { !breaches.isEmpty || (deadline.map { $0 < now } ?? false) }
}

/// The board's filters (all optional; query parameters of `/board` and `/api/v1/workorders`).
public struct BoardFilter: Sendable, Equatable, Codable {
    public var country: String?
    public var serviceLine: String?
    public var kind: String?
    public var assignee: String?
    public var level: Int?
    public var status: String?
    /// Rows per page (1…500).
    public var limit: Int
    public var offset: Int

    public init(
        country: String? = nil, serviceLine: String? = nil, kind: String? = nil, assignee: String? = nil, level: Int? = nil,
        status: String? = nil, limit: Int = 100, offset: Int = 0
    ) {
        self.country = country
        self.serviceLine = serviceLine
        self.kind = kind
        self.assignee = assignee
        self.level = level
        self.status = status
        self.limit = limit
        self.offset = offset
    }
}

/// The operations board: OTs not yet final, by priority then deadline.
public struct BoardPage: Sendable, Equatable {
    public var rows: [BoardRow]
    /// How many OTs match the filter in all.
    public var total: Int
    /// Of those, how many have breached an SLA.
    public var breached: Int
    public var filter: BoardFilter
    public var now: Date

    public init(rows: [BoardRow], total: Int, breached: Int, filter: BoardFilter, now: Date) {
        self.rows = rows
        self.total = total
        self.breached = breached
        self.filter = filter
        self.now = now
    }
}

/// One line of an OT's timeline: a message that concerned it.
public struct TimelineEntry: Sendable, Equatable, Codable {
    /// When it happened (the message's time).
    public var at: Date
    /// The message type (`workorder.dispatched`).
    public var type: String
    /// The state before and after, when it changed the OT's state.
    public var from: String?
    public var to: String?
    /// What it said, in a few words (`priority 2, contact by …`).
    public var summary: String
    public var messageId: String

    public init(at: Date, type: String, from: String? = nil, to: String? = nil, summary: String, messageId: String) {
        self.at = at
        self.type = type
        self.from = from
        self.to = to
        self.summary = summary
        self.messageId = messageId
    }
}

/// An amount with its currency, as shown.
public struct Amount: Sendable, Equatable, Codable {
    public var minor: Int64
    public var currency: String

    public init(minor: Int64, currency: String) {
        self.minor = minor
        self.currency = currency
    }
}

/// One OT with everything the console knows of it.
public struct WorkOrderDetail: Sendable, Equatable, Codable {
    public var row: BoardRow
    public var customerId: String?
    public var sector: String?
    public var description: String?
    public var outcome: String?
    public var closedAt: Date?
    /// The documents of its folder (kind and where they are).
    public var documents: [DocumentRef]
    public var prefacturaId: String?
    /// `issued`, `approved`, `returned`.
    public var prefacturaStatus: String?
    public var prefacturaAmount: Amount?
    public var invoiceId: String?
    public var invoiceAmount: Amount?
    public var invoiceIssuer: String?
    /// The damage this OT repairs, if it is a repair OT.
    public var damageId: String?
    public var timeline: [TimelineEntry]

    public init(
        row: BoardRow, customerId: String? = nil, sector: String? = nil, description: String? = nil, outcome: String? = nil,
        closedAt: Date? = nil, documents: [DocumentRef] = [], prefacturaId: String? = nil, prefacturaStatus: String? = nil,
        prefacturaAmount: Amount? = nil, invoiceId: String? = nil, invoiceAmount: Amount? = nil, invoiceIssuer: String? = nil,
        damageId: String? = nil, timeline: [TimelineEntry] = []
    ) {
        self.row = row
        self.customerId = customerId
        self.sector = sector
        self.description = description
        self.outcome = outcome
        self.closedAt = closedAt
        self.documents = documents
        self.prefacturaId = prefacturaId
        self.prefacturaStatus = prefacturaStatus
        self.prefacturaAmount = prefacturaAmount
        self.invoiceId = invoiceId
        self.invoiceAmount = invoiceAmount
        self.invoiceIssuer = invoiceIssuer
        self.damageId = damageId
        self.timeline = timeline
    }
}

/// A document of a folder.
public struct DocumentRef: Sendable, Equatable, Codable {
    public var kind: String
    public var uri: String
    public var sha256: String?

    public init(kind: String, uri: String, sha256: String? = nil) {
        self.kind = kind
        self.uri = uri
        self.sha256 = sha256
    }
}

/// One of the seeds' indicators.
public struct Indicator: Sendable, Equatable, Codable {
    /// `poleMoves`, `postSaleEfficacy`, `postSaleTimeliness`, `repeatedDamages`, `documentRetrieval`.
    public var id: String
    public var title: String
    /// The procedure that sets it (`OPE-SUM-GES-P08`).
    public var procedure: String
    /// Approved at or above this percentage.
    public var threshold: Int
    /// What is counted: numerator and denominator, in words.
    public var numeratorLabel: String
    public var denominatorLabel: String

    public init(id: String, title: String, procedure: String, threshold: Int, numeratorLabel: String, denominatorLabel: String) {
        self.id = id
        self.title = title
        self.procedure = procedure
        self.threshold = threshold
        self.numeratorLabel = numeratorLabel
        self.denominatorLabel = denominatorLabel
    }
}

/// An indicator's value for one month.
public struct IndicatorMonth: Sendable, Equatable, Codable {
    public enum Verdict: String, Sendable, Codable { case approved, observed, noData }

    /// `YYYY-MM`.
    public var month: String
    public var numerator: Int
    public var denominator: Int
    /// nil when there was nothing to count.
    public var percent: Double?
    public var verdict: Verdict

    public init(month: String, numerator: Int, denominator: Int, threshold: Int) {
        self.month = month
        self.numerator = numerator
        self.denominator = denominator
        percent = denominator == 0 ? nil : Double(numerator) * 100 / Double(denominator)
        verdict = denominator == 0 ? .noData : numerator * 100 >= threshold * denominator ? .approved : .observed
    }
}

/// An indicator over the last months (oldest first; the last one is the month asked for).
public struct IndicatorSeries: Sendable, Equatable, Codable {
    public var indicator: Indicator
    public var months: [IndicatorMonth]

    public init(indicator: Indicator, months: [IndicatorMonth]) {
        self.indicator = indicator
        self.months = months
    }
}

/// A state machine of one of the platform's services, with how many cases the console sees in
/// each of its states today (nil: the console does not follow that machine's cases).
public struct MachineView: Sendable {
    public var service: String
    public var kind: String
    public var machine: StateMachine
    public var counts: [String: Int]?

    public init(service: String, kind: String, machine: StateMachine, counts: [String: Int]?) {
        self.service = service
        self.kind = kind
        self.machine = machine
        self.counts = counts
    }
}

/// One dead letter of a service, as the broker holds it in `<service>.dead`.
public struct DeadLetterView: Sendable, Equatable, Codable {
    public var service: String
    public var messageId: String
    public var type: String?
    /// The runtime's code (`invalidMessage`, `unhandled`, `retriesExhausted`, …) and its reason.
    public var code: String?
    public var reason: String?
    public var failedAt: String?
    public var originalRoutingKey: String?
    /// The body, cut to a few hundred characters.
    public var body: String

    public init(
        service: String, messageId: String, type: String? = nil, code: String? = nil, reason: String? = nil, failedAt: String? = nil,
        originalRoutingKey: String? = nil, body: String
    ) {
        self.service = service
        self.messageId = messageId
        self.type = type
        self.code = code
        self.reason = reason
        self.failedAt = failedAt
        self.originalRoutingKey = originalRoutingKey
        self.body = body
    }
}

/// Dead letters of every service: how many each holds, and the first of each.
public struct DeadLettersPage: Sendable, Equatable {
    public var counts: [String: Int]
    public var letters: [DeadLetterView]
    /// What the last replay did, to show once.
    public var notice: String?

    public init(counts: [String: Int], letters: [DeadLetterView], notice: String? = nil) {
        self.counts = counts
        self.letters = letters
        self.notice = notice
    }
}
