/// `value` in decimal with at least `width` digits, zeros in front — what `%0Nd` prints (a minus
/// sign before the zeros), without `String(format:)`'s trip through Foundation's formatter.
public func zeroPadded(_ value: some BinaryInteger, width: Int) -> String {
    let digits = String(value.magnitude)
    let zeros = String(repeating: "0", count: max(0, width - digits.utf8.count - (value < 0 ? 1 : 0)))
    return (value < 0 ? "-" : "") + zeros + digits
}
