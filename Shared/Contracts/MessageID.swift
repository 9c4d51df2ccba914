/// Random identifiers for messages: RFC 4122 version-4 UUIDs in lower case.
///
/// Foundation's `UUID()` opens and reads `/dev/urandom` on every call on Linux; this reads the
/// system generator directly (`getrandom`) and formats without `String(format:)`.
public enum MessageID {
    /// A new random UUID, e.g. `6f1c0d4e-8f7a-4b7e-9d55-0a8d2b3c9e11`.
    public static func new() -> String {
        var g = SystemRandomNumberGenerator()
        var hi = g.next() as UInt64
        var lo = g.next() as UInt64
        hi = (hi & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000  // version 4
        lo = (lo & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000  // variant 10
        return hex(hi, lo, dashes: true)
    }

    /// `count` random bytes as lower-case hex (trace and span ids).
    public static func randomHex(bytes count: Int) -> String {
        var g = SystemRandomNumberGenerator()
        var out = [UInt8]()
        out.reserveCapacity(count * 2)
        var remaining = count
        while remaining > 0 {
            var word = g.next() as UInt64
            for _ in 0..<min(8, remaining) {
                let b = UInt8(truncatingIfNeeded: word)
                out.append(digits[Int(b >> 4)])
                out.append(digits[Int(b & 0xF)])
                word >>= 8
            }
            remaining -= 8
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    private static func hex(_ hi: UInt64, _ lo: UInt64, dashes: Bool) -> String {
        var out = [UInt8]()
        out.reserveCapacity(36)
        for (i, word) in [hi, lo].enumerated() {
            for n in 0..<16 {
                let position = i * 16 + n
                if dashes && (position == 8 || position == 12 || position == 16 || position == 20) { out.append(UInt8(ascii: "-")) }
                out.append(digits[Int((word >> UInt64(60 - n * 4)) & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
