import Contracts
import Foundation
import Runtime

/// What a file of each case kind and service must hold to be archived (seed 002: the document
/// manager checks each file "against each service's requirements"), from configuration.
///
/// `RECORDS_REQUIREMENTS` is a JSON object `{caseKind: {service: [requirement]}}`; `"*"` is the
/// service default of a case kind; a requirement is a document kind, or alternatives joined by
/// `|` (`"purchaseOrder|signedQuote|contract"`: any one of them). What it does not name keeps the
/// defaults: sale → `contract`; postsale → `requestLetter`; workOrder → `offer`, `workOrder` and one
/// of `purchaseOrder` / `signedQuote` / `contract` (SGC-PC-07 §4.3). A service entry replaces its
/// case kind's default for that service (list the defaults again to add to them).
public struct Requirements: Sendable, Equatable {
    public var table: [RecordsCaseKind: [String: [String]]]

    public static let defaults = Requirements(table: [
        .sale: ["*": ["contract"]],
        .postsale: ["*": ["requestLetter"]],
        .workOrder: ["*": ["offer", "workOrder", "purchaseOrder|signedQuote|contract"]],
    ])

    /// The requirements of a file of `caseKind` for `service`.
    public func required(_ caseKind: RecordsCaseKind, service: String) -> [String] {
        let kind = table[caseKind] ?? [:]
        return kind[service] ?? kind["*"] ?? Self.defaults.table[caseKind]?["*"] ?? []
    }

    /// What `documents` lack: each unmet requirement, named by its first alternative (as approval
    /// names the supporting document). An empty document list is never complete.
    public func missing(_ caseKind: RecordsCaseKind, service: String, documents: [Document]) -> [String] {
        let kinds = Set(documents.map(\.kind.rawValue))
        var missing = required(caseKind, service: service).compactMap { requirement -> String? in
            let alternatives = requirement.split(separator: "|").map(String.init)
            return alternatives.contains(where: kinds.contains) ? nil : alternatives.first
        }
        if documents.isEmpty, missing.isEmpty { missing = ["document"] }
        return missing
    }

    /// Parses `RECORDS_REQUIREMENTS` over the defaults.
    public static func parse(_ json: String) throws -> Requirements {
        let decoded = try JSONDecoder().decode([String: [String: [String]]].self, from: Data(json.utf8))
        var r = defaults
        for (kindName, services) in decoded {
            guard let kind = RecordsCaseKind(rawValue: kindName) else { throw RequirementsError("unknown case kind \(kindName)") }
            for (service, list) in services {
                for requirement in list {
                    for alternative in requirement.split(separator: "|") where DocumentKind(rawValue: String(alternative)) == nil {
                        throw RequirementsError("\(kindName).\(service): unknown document kind \(alternative)")
                    }
                }
                r.table[kind, default: [:]][service] = list
            }
        }
        return r
    }

    public struct RequirementsError: Error, CustomStringConvertible {
        public var description: String
        init(_ d: String) { description = d }
    }

    /// The table of this process: the defaults, overridden by `RECORDS_REQUIREMENTS` (checked at
    /// start by the service's `main`).
    public static let current: Requirements = {
        guard let text = ProcessInfo.processInfo.environment["RECORDS_REQUIREMENTS"] else { return defaults }
        return (try? parse(text)) ?? defaults
    }()
}

/// The records rules besides the requirements (seed 002).
public enum RecordsRules {
    /// Archived files are kept this many years, then transferred to the central archive.
    public static let retentionYears = 2
    /// The central archive.
    public static let centralArchive = "condebamba"
    /// Who registers the platform's own cases.
    public static let automatic = Advisor(id: "auto", name: "registro automático")

    /// Two years after `date`, to the second (29 February → 28 February).
    public static func retainUntil(_ date: Date) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(byAdding: .year, value: retentionYears, to: date) ?? date.addingTimeInterval(Double(retentionYears) * 365 * 86_400)
    }

    /// Where an archived file is kept: office / case kind / service / year, the classification.
    public static func location(office: RecordsOffice, caseKind: RecordsCaseKind, service: String, archivedAt: Date) -> String {
        "\(office.rawValue)/\(caseKind.rawValue)/\(service)/\(Day(archivedAt).year)"
    }

    /// The base of download links (`RECORDS_PUBLIC_URL`, default `http://127.0.0.1:8088`: the document endpoint).
    public static let publicURL: String = {
        let url = ProcessInfo.processInfo.environment["RECORDS_PUBLIC_URL"] ?? "http://127.0.0.1:8088"
        return url.hasSuffix("/") ? String(url.dropLast()) : url
    }()

    /// A scan's download link to a stored document.
    public static func link(_ sha256: String) -> String { "\(publicURL)/documents/\(sha256)" }

    /// Whether `text` is a SHA-256 as the store names objects: 64 lowercase hexadecimal characters.
    public static func isSHA256(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// The problems of a file's documents: an empty URI, a hash that is not a SHA-256.
    public static func problems(_ documents: [Document], field: String = "data.documents") -> [FieldProblem] {
        var problems: [FieldProblem] = []
        for (i, d) in documents.enumerated() {
            if d.uri.isBlank { problems.append(FieldProblem(field: "\(field)[\(i)].uri", problem: "must not be empty")) }
            if let h = d.sha256, !isSHA256(h.lowercased()) {
                problems.append(FieldProblem(field: "\(field)[\(i)].sha256", problem: "must be 64 hexadecimal characters"))
            }
        }
        return problems
    }
}
