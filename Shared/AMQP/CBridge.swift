import CRabbitMQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Owns C memory handed to rabbitmq-c for the duration of one call (strings, tables), and frees
/// it all at once. Never escapes the connection's I/O thread.
final class CArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    deinit {
        for p in allocations { free(p) }
    }

    private func allocate(_ count: Int) -> UnsafeMutableRawPointer {
        let p = malloc(max(count, 1))!
        allocations.append(p)
        return p
    }

    func bytes(_ string: String) -> amqp_bytes_t {
        var s = string
        return s.withUTF8 { utf8 in
            let p = allocate(utf8.count)
            if let base = utf8.baseAddress { p.copyMemory(from: base, byteCount: utf8.count) }
            return amqp_bytes_t(len: utf8.count, bytes: p)
        }
    }

    func bytes(_ array: inout [UInt8]) -> amqp_bytes_t {
        let p = allocate(array.count)
        array.withUnsafeBytes { src in
            if let base = src.baseAddress { p.copyMemory(from: base, byteCount: src.count) }
        }
        return amqp_bytes_t(len: array.count, bytes: p)
    }

    func cString(_ string: String) -> UnsafePointer<CChar> {
        let utf8 = Array(string.utf8CString)
        let p = allocate(utf8.count).bindMemory(to: CChar.self, capacity: utf8.count)
        for (i, c) in utf8.enumerated() { p[i] = c }
        return UnsafePointer(p)
    }

    func table(_ dict: [String: FieldValue]) -> amqp_table_t {
        if dict.isEmpty { return amqp_empty_table }
        let entries = allocate(MemoryLayout<amqp_table_entry_t>.stride * dict.count)
            .bindMemory(to: amqp_table_entry_t.self, capacity: dict.count)
        for (i, (key, value)) in dict.sorted(by: { $0.key < $1.key }).enumerated() {
            var entry = amqp_table_entry_t()
            entry.key = bytes(key)
            entry.value = field(value)
            entries[i] = entry
        }
        return amqp_table_t(num_entries: Int32(dict.count), entries: entries)
    }

    func field(_ value: FieldValue) -> amqp_field_value_t {
        var v = amqp_field_value_t()
        switch value {
        case .string(let s):
            v.kind = UInt8(AMQP_FIELD_KIND_UTF8.rawValue)
            v.value.bytes = bytes(s)
        case .bytes(var b):
            v.kind = UInt8(AMQP_FIELD_KIND_BYTES.rawValue)
            v.value.bytes = bytes(&b)
        case .int(let i):
            v.kind = UInt8(AMQP_FIELD_KIND_I64.rawValue)
            v.value.i64 = i
        case .bool(let b):
            v.kind = UInt8(AMQP_FIELD_KIND_BOOLEAN.rawValue)
            v.value.boolean = b ? 1 : 0
        case .double(let d):
            v.kind = UInt8(AMQP_FIELD_KIND_F64.rawValue)
            v.value.f64 = d
        case .array(let items):
            let p = allocate(MemoryLayout<amqp_field_value_t>.stride * max(items.count, 1))
                .bindMemory(to: amqp_field_value_t.self, capacity: max(items.count, 1))
            for (i, item) in items.enumerated() { p[i] = field(item) }
            v.kind = UInt8(AMQP_FIELD_KIND_ARRAY.rawValue)
            v.value.array = amqp_array_t(num_entries: Int32(items.count), entries: p)
        case .table(let t):
            v.kind = UInt8(AMQP_FIELD_KIND_TABLE.rawValue)
            v.value.table = table(t)
        case .void:
            v.kind = UInt8(AMQP_FIELD_KIND_VOID.rawValue)
        }
        return v
    }

    /// Builds C basic properties from Swift ones; every pointer lives as long as the arena.
    func properties(_ props: MessageProperties) -> amqp_basic_properties_t {
        var p = amqp_basic_properties_t()
        var flags: UInt32 = 0
        if let v = props.contentType { p.content_type = bytes(v); flags |= UInt32(AMQP_BASIC_CONTENT_TYPE_FLAG) }
        if let v = props.contentEncoding {
            p.content_encoding = bytes(v)
            flags |= UInt32(AMQP_BASIC_CONTENT_ENCODING_FLAG)
        }
        if !props.headers.isEmpty { p.headers = table(props.headers); flags |= UInt32(AMQP_BASIC_HEADERS_FLAG) }
        if let v = props.deliveryMode { p.delivery_mode = v; flags |= UInt32(AMQP_BASIC_DELIVERY_MODE_FLAG) }
        if let v = props.priority { p.priority = v; flags |= UInt32(AMQP_BASIC_PRIORITY_FLAG) }
        if let v = props.correlationId {
            p.correlation_id = bytes(v)
            flags |= UInt32(AMQP_BASIC_CORRELATION_ID_FLAG)
        }
        if let v = props.replyTo { p.reply_to = bytes(v); flags |= UInt32(AMQP_BASIC_REPLY_TO_FLAG) }
        if let v = props.expiration { p.expiration = bytes(v); flags |= UInt32(AMQP_BASIC_EXPIRATION_FLAG) }
        if let v = props.messageId { p.message_id = bytes(v); flags |= UInt32(AMQP_BASIC_MESSAGE_ID_FLAG) }
        if let v = props.timestamp { p.timestamp = v; flags |= UInt32(AMQP_BASIC_TIMESTAMP_FLAG) }
        if let v = props.type { p.type = bytes(v); flags |= UInt32(AMQP_BASIC_TYPE_FLAG) }
        if let v = props.userId { p.user_id = bytes(v); flags |= UInt32(AMQP_BASIC_USER_ID_FLAG) }
        if let v = props.appId { p.app_id = bytes(v); flags |= UInt32(AMQP_BASIC_APP_ID_FLAG) }
        p._flags = amqp_flags_t(flags)
        return p
    }
}

// MARK: - Copying out of C buffers (before rabbitmq-c releases them)

extension amqp_bytes_t {
    /// Whether the bytes are the UTF-8 of `string` (no copy).
    func equals(_ string: String) -> Bool {
        guard string.utf8.count == len else { return false }
        if len == 0 { return true }
        guard let bytes else { return false }
        return string.utf8.withContiguousStorageIfAvailable { memcmp($0.baseAddress!, bytes, len) == 0 }
            ?? (string == self.string)
    }

    /// A copy of the bytes as a Swift array.
    var array: [UInt8] {
        guard len > 0, let bytes else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: len))
    }

    /// A copy of the bytes as a UTF-8 string.
    var string: String {
        guard len > 0, let bytes else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: bytes, count: len), as: UTF8.self)
    }
}

enum CCopy {
    /// One empty table for every message without headers (`[:]` goes through an initializer call).
    static let noHeaders = [String: FieldValue]()

    static func table(_ t: amqp_table_t) -> [String: FieldValue] {
        var out: [String: FieldValue] = [:]
        guard t.num_entries > 0, let entries = t.entries else { return out }
        for i in 0..<Int(t.num_entries) {
            var entry = entries[i]
            out[entry.key.string] = field(&entry.value)
        }
        return out
    }

    static func field(_ v: inout amqp_field_value_t) -> FieldValue {
        if ot_field_is_integer(&v) != 0 { return .int(ot_field_integer(&v)) }
        switch UInt32(ot_field_kind(&v)) {
        case AMQP_FIELD_KIND_UTF8.rawValue: return .string(ot_field_bytes(&v).string)
        case AMQP_FIELD_KIND_BYTES.rawValue: return .bytes(ot_field_bytes(&v).array)
        case AMQP_FIELD_KIND_BOOLEAN.rawValue: return .bool(v.value.boolean != 0)
        case AMQP_FIELD_KIND_F64.rawValue: return .double(v.value.f64)
        case AMQP_FIELD_KIND_F32.rawValue: return .double(Double(v.value.f32))
        case AMQP_FIELD_KIND_TABLE.rawValue: return .table(table(ot_field_table(&v)))
        case AMQP_FIELD_KIND_ARRAY.rawValue:
            let a = ot_field_array(&v)
            guard a.num_entries > 0, let entries = a.entries else { return .array([]) }
            return .array((0..<Int(a.num_entries)).map { i in
                var item = entries[i]
                return field(&item)
            })
        default: return .void
        }
    }

    /// A copy of C basic properties. Fields that repeat from message to message (content type,
    /// type, app id, user id, …) come from `strings`, which keeps one copy of each recent value.
    static func properties(_ p: UnsafePointer<amqp_basic_properties_t>, _ strings: inout StringInterner) -> MessageProperties {
        let c = p.pointee
        let f = UInt32(c._flags)
        func has(_ flag: Int32) -> Bool { f & UInt32(flag) != 0 }
        return MessageProperties(
            contentType: has(AMQP_BASIC_CONTENT_TYPE_FLAG) ? strings.string(c.content_type) : nil,
            contentEncoding: has(AMQP_BASIC_CONTENT_ENCODING_FLAG) ? strings.string(c.content_encoding) : nil,
            headers: has(AMQP_BASIC_HEADERS_FLAG) ? table(c.headers) : noHeaders,
            deliveryMode: has(AMQP_BASIC_DELIVERY_MODE_FLAG) ? c.delivery_mode : nil,
            priority: has(AMQP_BASIC_PRIORITY_FLAG) ? c.priority : nil,
            correlationId: has(AMQP_BASIC_CORRELATION_ID_FLAG) ? c.correlation_id.string : nil,
            replyTo: has(AMQP_BASIC_REPLY_TO_FLAG) ? c.reply_to.string : nil,
            expiration: has(AMQP_BASIC_EXPIRATION_FLAG) ? c.expiration.string : nil,
            messageId: has(AMQP_BASIC_MESSAGE_ID_FLAG) ? c.message_id.string : nil,
            timestamp: has(AMQP_BASIC_TIMESTAMP_FLAG) ? c.timestamp : nil,
            type: has(AMQP_BASIC_TYPE_FLAG) ? strings.string(c.type) : nil,
            userId: has(AMQP_BASIC_USER_ID_FLAG) ? strings.string(c.user_id) : nil,
            appId: has(AMQP_BASIC_APP_ID_FLAG) ? strings.string(c.app_id) : nil
        )
    }
}

/// Recent string values copied out of C buffers, to hand out the same Swift string again when the
/// same bytes come back (exchange, routing key, content type … repeat from delivery to delivery):
/// no allocation and no UTF-8 validation for them. Strings of up to 15 bytes are stored inline by
/// Swift and are simply copied.
struct StringInterner {
    private var entries: [String] = []
    private var next = 0
    static let capacity = 32

    mutating func string(_ bytes: amqp_bytes_t) -> String {
        if bytes.len <= 15 { return bytes.string }
        for s in entries where bytes.equals(s) { return s }
        let s = bytes.string
        if entries.count < Self.capacity {
            entries.append(s)
        } else {
            entries[next] = s
            next = (next + 1) % Self.capacity
        }
        return s
    }
}
