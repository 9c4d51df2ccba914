import Contracts
import Foundation

/// Fees the procedure does not price itself, from configuration: `POSTSALE_TARIFF` holds a JSON
/// object with any of the keys below (amounts `{"minor": …, "currency": "BOB"}`); what it does not
/// name keeps its default. The seed's own prices (Bs 12 a month of call detail, Bs 70 of a
/// Multipack's basic telephony) are rules, not tariff.
public struct Tariff: Codable, Sendable, Equatable {
    /// Enabling or disabling a supplementary service (A, step 5.1). Default Bs 15.
    public var supplementaryService: Money = .bolivianos(15)
    /// A transfer of products (C, steps 5.2 and 6.2). Default Bs 150.
    public var transfer: Money = .bolivianos(150)
    /// Equipment returned incomplete or damaged on a withdrawal (H, step 13): the economic claim
    /// on the next invoice. Default Bs 350.
    public var equipmentNotReturned: Money = .bolivianos(350)

    public init() {}

    /// The tariff of this process: the defaults, overridden by `POSTSALE_TARIFF`.
    public static let current: Tariff = {
        guard let text = ProcessInfo.processInfo.environment["POSTSALE_TARIFF"] else { return Tariff() }
        return (try? parse(text)) ?? Tariff()
    }()

    /// Parses the JSON of `POSTSALE_TARIFF` over the defaults.
    public static func parse(_ json: String) throws -> Tariff {
        let overrides = try JSONDecoder().decode([String: Money].self, from: Data(json.utf8))
        var t = Tariff()
        for (key, value) in overrides {
            switch key {
            case "supplementaryService": t.supplementaryService = value
            case "transfer": t.transfer = value
            case "equipmentNotReturned": t.equipmentNotReturned = value
            default: throw TariffError(key: key)
            }
        }
        return t
    }

    struct TariffError: Error { var key: String }
}
