/// Ids derived from other ids, so that `decide` stays a pure function: the same input always
/// names the same new thing (a redelivered or replayed message creates nothing twice).
public enum DerivedID {
    /// A UUID-shaped id (version 8, "custom") derived from `name` within `namespace`:
    /// 128 bits of two independent FNV-1a hashes.
    public static func uuid(_ namespace: String, _ name: String) -> String {
        let text = Array("\(namespace)\u{1F}\(name)".utf8)
        var hi = hash(text, seed: 0xcbf2_9ce4_8422_2325)
        var lo = hash(text, seed: 0x8422_2325_cbf2_9ce4 ^ 0x9e37_79b9_7f4a_7c15)
        hi = (hi & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_8000  // version 8
        lo = (lo & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000  // variant 10
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(36)
        for (i, word) in [hi, lo].enumerated() {
            for n in 0..<16 {
                let position = i * 16 + n
                if position == 8 || position == 12 || position == 16 || position == 20 { out.append(UInt8(ascii: "-")) }
                out.append(digits[Int((word >> UInt64(60 - n * 4)) & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hash(_ bytes: [UInt8], seed: UInt64) -> UInt64 {
        var h = seed
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        // Final avalanche (splitmix64), so that similar names differ in every bit.
        h ^= h >> 30
        h = h &* 0xbf58_476d_1ce4_e5b9
        h ^= h >> 27
        h = h &* 0x94d0_49bb_1331_11eb
        h ^= h >> 31
        return h
    }
}
