import Foundation

/// Where services read "now": the system clock in production, a settable one in tests. Every SLA
/// deadline is computed from it and stored, never kept only in memory.
public protocol WallClock: Sendable {
    func now() -> Date
}

/// The system clock, optionally shifted by `CLOCK_OFFSET_SECONDS` (for demos and end-to-end tests
/// that need deadlines to pass without waiting).
public struct SystemClock: WallClock {
    public var offset: TimeInterval
    public init(offset: TimeInterval = 0) { self.offset = offset }
    public func now() -> Date { Date().addingTimeInterval(offset) }
}
