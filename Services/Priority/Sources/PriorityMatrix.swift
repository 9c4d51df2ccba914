import Contracts
import Foundation

/// What the priority matrix groups products into (COM-GCM-P12 Anexo 2 names "multimedia",
/// "internet" and "TV"; the call center's telephony is a fourth group no row names).
///
/// *Multimedia* is COMTECO's bundle: a product that carries two or more services over one access
/// — `duoPack` and `multipack`. *Internet* is fixed or mobile data alone (`internet`, `hspa`),
/// *TV* is `tv`, *telephony* the fixed `line`.
public enum ProductGroup: String, Codable, Sendable, CaseIterable {
    case multimedia, internet, tv, telephony

    public init(_ type: ProductType) {
        switch type {
        case .duoPack, .multipack: self = .multimedia
        case .internet, .hspa: self = .internet
        case .tv: self = .tv
        case .line: self = .telephony
        }
    }

    /// Whether a repaired product of this group is checked 24 h after its OT closes (the check
    /// measures the data line: attenuation, intermittent cuts); telephony and TV are checked by the
    /// operations center's call at once.
    public var checkedAfter24Hours: Bool { self == .multimedia || self == .internet }
}

/// What the matrix looks at in an OT.
@JSONMembers
public struct PriorityFacts: Codable, Sendable, Equatable, Hashable {
    public var kind: WorkOrderKind
    public var segment: Segment
    /// The product's type, when the OT names one.
    public var product: ProductType?
    /// Where the damage of a repair OT was reported.
    public var channel: DamageChannel?
    /// A repair of a reiterated damage (registered after one closed without solution, or
    /// reported again while open).
    public var reiterated: Bool
    /// The product's previous OT was cancelled (*OT anulada*): this one is its re-issue.
    public var reissue: Bool
    /// An immediate OT of quality control (a line problem) or of the escalation ladder's
    /// supervisor.
    public var immediate: Bool

    public init(
        kind: WorkOrderKind, segment: Segment, product: ProductType? = nil, channel: DamageChannel? = nil, reiterated: Bool = false,
        reissue: Bool = false, immediate: Bool = false
    ) {
        self.kind = kind
        self.segment = segment
        self.product = product
        self.channel = channel
        self.reiterated = reiterated
        self.reissue = reissue
        self.immediate = immediate
    }

    public var group: ProductGroup? { product.map(ProductGroup.init) }
}

/// The priority matrix of work orders (COM-GCM-P12 Anexo 2, *Matriz de Priorización Órdenes de
/// Trabajo*) for every OT of the platform, as a pure function of its facts and its age.
///
/// The rows, highest level first; the highest level that matches wins (the first row in this
/// order), and an OT that matches none is level 4. Within a level, reiterated claims go first
/// (``PriorityMatrix/Result/reiterated``: the operations center's queue orders them ahead).
/// Ages count from the OT's opening (`workorder.opened`'s time), and so do the deadlines:
/// level 1 12 h (the same day), level 2 24 h, level 3 48 h (the matrix's "24 to 48 h": the
/// deadline is its upper end), level 4 48 h. An OT ages until it is attended, closed, cancelled
/// or rejected; "more than 72 h" holds from the 72nd hour on.
public enum PriorityMatrix {
    /// One row of the matrix.
    public enum Row: String, Codable, Sendable, CaseIterable {
        case topInstallationOrClaim
        case multimediaRetention
        case immediate
        case pymeOrInfluencer
        case repeatedMultimedia
        case internetOrTVRetention
        case multimediaOver72Hours
        case cancelledMultimediaOrInternet
        case repeatedInternetOrTV
        case internetInstallationOver150Hours
        case cancelledInternetOrTV
        case noRow

        public var level: Int {
            switch self {
            case .topInstallationOrClaim, .multimediaRetention, .immediate: 1
            case .pymeOrInfluencer, .repeatedMultimedia, .internetOrTVRetention: 2
            case .multimediaOver72Hours, .cancelledMultimediaOrInternet, .repeatedInternetOrTV: 3
            case .internetInstallationOver150Hours, .cancelledInternetOrTV, .noRow: 4
            }
        }

        /// The row as Anexo 2 words it (`workorder.prioritized.reason`).
        public var reason: String {
            switch self {
            case .topInstallationOrClaim: "Instalación / reclamo TOP A - TOP B"
            case .multimediaRetention: "Multimedia (Retención)"
            case .immediate: "OT inmediata (control de calidad / escalamiento)"
            case .pymeOrInfluencer: "PYMES (no TOP) - Influencers"
            case .repeatedMultimedia: "Daño reiterado multimedia"
            case .internetOrTVRetention: "Internet - TV (Retención)"
            case .multimediaOver72Hours: "Multimedia > 72 horas"
            case .cancelledMultimediaOrInternet: "OT anulada multimedia - internet"
            case .repeatedInternetOrTV: "Daño reiterado internet / TV"
            case .internetInstallationOver150Hours: "Instalaciones internet > 150 horas"
            case .cancelledInternetOrTV: "OT anulada internet - TV"
            case .noRow: "Controlable (ninguna fila de la matriz)"
            }
        }

        /// Whether the row matches an OT with `facts` open for `age`.
        public func matches(_ f: PriorityFacts, age: TimeInterval) -> Bool {
            let g = f.group
            switch self {
            case .topInstallationOrClaim:
                return (f.segment == .topA || f.segment == .topB) && (f.kind == .installation || f.kind == .repair)
            case .multimediaRetention: return g == .multimedia && f.channel == .retention
            case .immediate: return f.immediate
            case .pymeOrInfluencer: return f.segment == .pyme || f.segment == .influencer
            case .repeatedMultimedia: return g == .multimedia && f.reiterated
            case .internetOrTVRetention: return (g == .internet || g == .tv) && f.channel == .retention
            case .multimediaOver72Hours: return g == .multimedia && age >= PriorityMatrix.multimediaAge
            case .cancelledMultimediaOrInternet: return f.reissue && (g == .multimedia || g == .internet)
            case .repeatedInternetOrTV: return f.reiterated && (g == .internet || g == .tv)
            case .internetInstallationOver150Hours:
                return g == .internet && f.kind == .installation && age >= PriorityMatrix.installationAge
            case .cancelledInternetOrTV: return f.reissue && (g == .internet || g == .tv)
            case .noRow: return true
            }
        }
    }

    /// An OT's level, why, and whether it goes first within the level.
    public struct Result: Sendable, Equatable {
        public var row: Row
        public var reiterated: Bool
        public var level: Int { row.level }
        public var reason: String { row.reason }
        public init(row: Row, reiterated: Bool) {
            self.row = row
            self.reiterated = reiterated
        }
    }

    /// "Multimedia > 72 h (3 días)".
    public static let multimediaAge: TimeInterval = 72 * 3600
    /// "Instalaciones internet > 150 h (6 días)".
    public static let installationAge: TimeInterval = 150 * 3600
    /// The ages at which a row may start to match.
    public static let ages: [TimeInterval] = [multimediaAge, installationAge]

    /// The maximum time of a level, from the OT's opening.
    public static func maxTime(level: Int) -> TimeInterval {
        switch level {
        case 1: 12 * 3600
        case 2: 24 * 3600
        default: 48 * 3600
        }
    }

    /// The level of an OT with `facts`, open for `age`.
    public static func evaluate(_ facts: PriorityFacts, age: TimeInterval) -> Result {
        let row = Row.allCases.first { $0.matches(facts, age: age) } ?? .noRow
        return Result(row: row, reiterated: facts.reiterated)
    }

    /// The deadline of `level` for an OT opened at `openedAt`.
    public static func deadline(level: Int, openedAt: Date) -> Date { openedAt.addingTimeInterval(maxTime(level: level)) }

    /// The next age after `age` at which the OT's row changes (its re-levelling timer), if any.
    public static func nextChange(_ facts: PriorityFacts, after age: TimeInterval) -> TimeInterval? {
        let now = evaluate(facts, age: age).row
        return ages.filter { $0 > age }.sorted().first { evaluate(facts, age: $0).row != now }
    }
}
