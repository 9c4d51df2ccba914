import Contracts
import Foundation
import Runtime

/// Reads the flow-specific `details` of a post-sale request: a field that is absent is a
/// requirement still missing (listed by name, `details.from`); a field that is present but not
/// of its type is a validation problem of the command (`data.details.from`).
struct DetailsReader {
    let details: JSONObject
    private(set) var missing: [String] = []
    private(set) var problems: [FieldProblem] = []

    init(_ details: JSONObject) { self.details = details }

    private mutating func value(_ key: String, required: Bool) -> JSONValue? {
        switch details[key] {
        case nil, .null?:
            if required { missing.append("details.\(key)") }
            return nil
        case let v?: return v
        }
    }

    private mutating func invalid(_ key: String, _ problem: String) {
        problems.append(FieldProblem(field: "data.details.\(key)", problem: problem))
    }

    mutating func string(_ key: String, required: Bool = true) -> String? {
        guard let v = value(key, required: required) else { return nil }
        guard case .string(let s) = v, !s.isBlank else {
            invalid(key, "must be a non-empty string")
            return nil
        }
        return s
    }

    mutating func bool(_ key: String, required: Bool = true) -> Bool? {
        guard let v = value(key, required: required) else { return nil }
        guard case .bool(let b) = v else {
            invalid(key, "must be true or false")
            return nil
        }
        return b
    }

    mutating func day(_ key: String, required: Bool = true) -> Day? {
        guard let v = value(key, required: required) else { return nil }
        guard case .string(let s) = v, let d = Day(s) else {
            invalid(key, "must be a date YYYY-MM-DD")
            return nil
        }
        return d
    }

    mutating func month(_ key: String, required: Bool = true) -> YearMonth? {
        guard let v = value(key, required: required) else { return nil }
        guard case .string(let s) = v, let m = YearMonth(s) else {
            invalid(key, "must be a month YYYY-MM")
            return nil
        }
        return m
    }

    mutating func strings(_ key: String, required: Bool = true) -> [String]? {
        guard let v = value(key, required: required) else { return nil }
        guard case .array(let items) = v, !items.isEmpty else {
            invalid(key, "must be a non-empty array of strings")
            return nil
        }
        var out: [String] = []
        for item in items {
            guard case .string(let s) = item, !s.isBlank else {
                invalid(key, "must be a non-empty array of strings")
                return nil
            }
            out.append(s)
        }
        return out
    }

    mutating func months(_ key: String) -> [YearMonth]? {
        guard let texts = strings(key) else { return nil }
        let parsed = texts.compactMap(YearMonth.init)
        guard parsed.count == texts.count else {
            invalid(key, "must be months YYYY-MM")
            return nil
        }
        return parsed
    }

    mutating func money(_ key: String, required: Bool = true) -> Money? {
        guard let v = value(key, required: required) else { return nil }
        guard case .object(let o) = v, case .number(let n)? = o["minor"], n == n.rounded(), n > 0, n < 1e15,
            case .string(let c)? = o["currency"], let currency = Currency(rawValue: c)
        else {
            invalid(key, "must be a positive amount {minor, currency}")
            return nil
        }
        return Money(minor: Int64(n), currency: currency)
    }

    mutating func oneOf<E: RawRepresentable & CaseIterable>(_ key: String, _ type: E.Type, required: Bool = true) -> E?
    where E.RawValue == String {
        guard let v = value(key, required: required) else { return nil }
        guard case .string(let s) = v, let e = E(rawValue: s) else {
            invalid(key, "must be one of \(E.allCases.map(\.rawValue).joined(separator: ", "))")
            return nil
        }
        return e
    }
}
