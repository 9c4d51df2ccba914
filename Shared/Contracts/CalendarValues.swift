import Foundation

// Dates without a time (`"YYYY-MM-DD"`) and months (`"YYYY-MM"`) of the post-sale and recurring
// billing messages, as values: compared, counted and added without time zones (the calendar is
// the proleptic Gregorian one; a day's instant is its midnight UTC).

/// A calendar day, `"YYYY-MM-DD"` on the wire.
public struct Day: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    /// A valid day, or nil (`Day(2027, 2, 29)` is nil).
    public init?(_ year: Int, _ month: Int, _ day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month), day >= 1,
            day <= YearMonth.days(inMonth: month, of: year)
        else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// Parses `YYYY-MM-DD` exactly (four, two and two digits); nil otherwise.
    public init?(_ text: String) {
        let u = Array(text.utf8)
        guard u.count == 10, u[4] == UInt8(ascii: "-"), u[7] == UInt8(ascii: "-"),
            let y = Self.digits(u[0..<4]), let m = Self.digits(u[5..<7]), let d = Self.digits(u[8..<10])
        else { return nil }
        self.init(y, m, d)
    }

    /// The UTC calendar day of an instant.
    public init(_ date: Date) {
        let c = YearMonth.utc.dateComponents([.year, .month, .day], from: date)
        self.year = c.year ?? 1970
        self.month = c.month ?? 1
        self.day = c.day ?? 1
    }

    static func digits(_ bytes: ArraySlice<UInt8>) -> Int? {
        var n = 0
        for b in bytes {
            guard b >= 48, b <= 57 else { return nil }
            n = n * 10 + Int(b - 48)
        }
        return n
    }

    public var description: String {
        "\(zeroPadded(year, width: 4))-\(zeroPadded(month, width: 2))-\(zeroPadded(day, width: 2))"
    }

    /// Midnight UTC at the start of the day.
    public var start: Date {
        YearMonth.utc.date(from: DateComponents(year: year, month: month, day: day))!
    }

    /// Its month.
    public var yearMonth: YearMonth { YearMonth(uncheckedYear: year, month: month) }

    /// Days since 1970-01-01 (negative before).
    public var ordinal: Int { Int((start.timeIntervalSince1970 / 86_400).rounded(.down)) }

    /// `n` days later (earlier when negative).
    public func adding(days n: Int) -> Day { Day(start.addingTimeInterval(Double(n) * 86_400)) }

    /// The same day `n` calendar months later, clamped to the end of a shorter month
    /// (2027-10-31 + 4 months = 2028-02-29).
    public func adding(months n: Int) -> Day {
        let target = yearMonth.adding(months: n)
        return Day(target.year, target.month, min(day, target.days))!
    }

    /// Days from `self` to `other` (positive when `other` is later).
    public func days(to other: Day) -> Int { other.ordinal - ordinal }

    public static func < (a: Day, b: Day) -> Bool { (a.year, a.month, a.day) < (b.year, b.month, b.day) }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        guard let day = Day(text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "\"\(text)\" is not a date YYYY-MM-DD")
        }
        self = day
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// A calendar month, `"YYYY-MM"` on the wire.
public struct YearMonth: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public let year: Int
    public let month: Int

    public init?(_ year: Int, _ month: Int) {
        guard (1...9999).contains(year), (1...12).contains(month) else { return nil }
        self.year = year
        self.month = month
    }

    init(uncheckedYear year: Int, month: Int) {
        self.year = year
        self.month = month
    }

    /// Parses `YYYY-MM` exactly; nil otherwise.
    public init?(_ text: String) {
        let u = Array(text.utf8)
        guard u.count == 7, u[4] == UInt8(ascii: "-"), let y = Day.digits(u[0..<4]), let m = Day.digits(u[5..<7]) else { return nil }
        self.init(y, m)
    }

    /// The UTC month of an instant.
    public init(_ date: Date) {
        let d = Day(date)
        self.init(uncheckedYear: d.year, month: d.month)
    }

    static let utc: Calendar = {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        return c
    }()

    static func days(inMonth month: Int, of year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    public var description: String { "\(zeroPadded(year, width: 4))-\(zeroPadded(month, width: 2))" }

    /// Its number of days (28–31).
    public var days: Int { Self.days(inMonth: month, of: year) }
    public var firstDay: Day { Day(year, month, 1)! }
    public var lastDay: Day { Day(year, month, days)! }
    /// `n` months later (earlier when negative).
    public func adding(months n: Int) -> YearMonth {
        let index = year * 12 + (month - 1) + n
        return YearMonth(uncheckedYear: index / 12, month: index % 12 + 1)
    }
    public func contains(_ day: Day) -> Bool { day.year == year && day.month == month }

    public static func < (a: YearMonth, b: YearMonth) -> Bool { (a.year, a.month) < (b.year, b.month) }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        guard let month = YearMonth(text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "\"\(text)\" is not a month YYYY-MM")
        }
        self = month
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

extension Day: ContractValue {
    static var schema: JSONSchema { .string(enum: nil, format: "date", minLength: nil, description: nil) }
}

extension YearMonth: ContractValue {
    static var schema: JSONSchema { .string(enum: nil, format: nil, minLength: 7, description: "a month, YYYY-MM") }
}
