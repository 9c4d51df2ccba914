import Contracts
import Foundation

/// The recurring invoice's arithmetic (GC-PRC-OPE-ASE-04 H step 7, I), pure and in exact minor
/// units: what one product costs in a month, and the last invoice of a withdrawn product.
public enum RecurringRules {
    /// The part of a Multipack that is basic telephony, never prorated (H, step 7.3): Bs 70.
    public static let multipackBasic: Int64 = 7_000

    /// `numerator / denominator` rounded half up (both non-negative).
    public static func roundHalfUp(_ numerator: Int64, _ denominator: Int64) -> Int64 {
        precondition(denominator > 0 && numerator >= 0)
        return (2 * numerator + denominator) / (2 * denominator)
    }

    /// The last invoice of a product withdrawn on `on` (H, step 7), as `billing.proration-computed`
    /// states it: `days` counts from the first of the month to the request date, both included.
    /// - fixed telephony (`line`) or HSPA: the full month (flat rate), `fullMonth`;
    /// - internet, TV, Duo Pack: `monthly × days / daysInMonth`, rounded half up, `prorated`;
    /// - Multipack: Bs 70 of basic telephony in full and the rest prorated, `multipackBasicNotProrated`
    ///   (in bolivianos; a Multipack billed in another currency is prorated whole).
    public static func withdrawal(type: ProductType, monthly: Money, on day: Day) -> (charged: Money, days: Int, daysInMonth: Int, rule: String) {
        let dim = day.yearMonth.days
        let days = day.day
        switch type {
        case .line, .hspa:
            return (monthly, days, dim, "fullMonth")
        case .multipack where monthly.currency == .bob && monthly.minor >= multipackBasic:
            let rest = roundHalfUp((monthly.minor - multipackBasic) * Int64(days), Int64(dim))
            return (Money(minor: multipackBasic + rest, currency: monthly.currency), days, dim, "multipackBasicNotProrated")
        case .internet, .tv, .duoPack, .multipack:
            return (Money(minor: roundHalfUp(monthly.minor * Int64(days), Int64(dim)), currency: monthly.currency), days, dim, "prorated")
        }
    }

    /// One step of a product's life: from `on`, its state and monthly fee.
    @JSONMembers
    public struct Change: Codable, Sendable, Equatable {
        public var on: Day
        public var status: ProductStatus
        public var monthly: Money

        public init(on: Day, status: ProductStatus, monthly: Money) {
            self.on = on
            self.status = status
            self.monthly = monthly
        }
    }

    /// What a product costs in `month`: each day it is installed and active costs
    /// `monthly / daysInMonth` at the fee of that day; suspended days cost nothing (the service is
    /// off: a suspension is a pause of billing, not a discount); days before the installation or
    /// after a withdrawal cost nothing. The sum is rounded half up once, so a full month costs
    /// exactly `monthly`. `changes` in order of `on` (a later change on the same day wins).
    public static func monthCharge(_ changes: [Change], month: YearMonth) -> (amount: Int64, days: Int) {
        let dim = month.days
        var numerator: Int64 = 0
        var billed = 0
        var index = 0
        var current: Change?
        for d in 1...dim {
            let day = Day(month.year, month.month, d)!
            while index < changes.count, changes[index].on <= day {
                current = changes[index]
                index += 1
            }
            guard let c = current, c.status == .active else { continue }
            numerator += c.monthly.minor
            billed += 1
        }
        return (roundHalfUp(numerator, Int64(dim)), billed)
    }

    /// The default due date of a month's proforma: the 20th of the next month.
    public static func defaultDueBy(_ month: YearMonth) -> Day { Day(month.adding(months: 1).year, month.adding(months: 1).month, 20)! }

    /// A proforma's id: one per contract and month.
    public static func proformaId(contractId: String, month: YearMonth) -> String { "PRF-\(month)-\(contractId)" }
}
