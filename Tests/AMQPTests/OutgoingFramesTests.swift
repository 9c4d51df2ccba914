@testable import AMQP
import CRabbitMQ
import Testing

/// The publishes the I/O thread writes in one system call: every frame of each message laid out as
/// AMQP 0-9-1 frames them (type, channel, size, payload, end octet), read back with rabbitmq-c's
/// own decoders.
@Suite struct OutgoingFramesTests {
    struct Frame: Equatable {
        var type: UInt8
        var channel: UInt16
        var payload: [UInt8]
    }

    /// Splits a buffer into frames, checking each one's end octet.
    static func frames(_ bytes: ArraySlice<UInt8>) throws -> [Frame] {
        var out: [Frame] = []
        var i = bytes.startIndex
        while i < bytes.endIndex {
            try #require(bytes.endIndex - i >= 8)
            let size = bytes[(i + 3)..<(i + 7)].reduce(0) { $0 << 8 | Int($1) }
            try #require(bytes.endIndex - i >= 8 + size)
            #expect(bytes[i + 7 + size] == 0xCE)
            out.append(
                Frame(type: bytes[i], channel: UInt16(bytes[i + 1]) << 8 | UInt16(bytes[i + 2]), payload: Array(bytes[(i + 7)..<(i + 7 + size)])))
            i += 8 + size
        }
        return out
    }

    static func encode(_ messages: [OutgoingMessage], channel: UInt16 = 1, frameMax: Int = 131_072) -> (OutgoingFrames, [Int32]) {
        let arena = CArena()
        var out = OutgoingFrames()
        var statuses: [Int32] = []
        for m in messages {
            var props = arena.properties(m.properties)
            let status = m.body.withUnsafeBytes { raw in
                out.append(
                    channel: channel, exchange: arena.bytes(m.exchange), routingKey: arena.bytes(m.routingKey),
                    mandatory: m.mandatory ? 1 : 0, properties: &props,
                    body: amqp_bytes_t(len: raw.count, bytes: UnsafeMutableRawPointer(mutating: raw.baseAddress)), frameMax: frameMax)
            }
            statuses.append(status)
        }
        return (out, statuses)
    }

    @Test func aPublishIsAMethodAHeaderAndItsBody() throws {
        let props = MessageProperties(
            contentType: "application/json", headers: ["attempt": .int(3), "origin": .string("crm")], messageId: "m-1",
            type: "workorder.open", userId: "crm", appId: "otbench")
        let body = Array("{\"a\":1}".utf8)
        let (out, statuses) = Self.encode([OutgoingMessage(exchange: "ot.commands", routingKey: "workorder.open", body: body, properties: props)])
        #expect(statuses == [AMQP_STATUS_OK.rawValue])
        let frames = try Self.frames(out.bytes[0..<out.count])
        try #require(frames.count == 3)
        #expect(frames.map(\.type) == [UInt8(AMQP_FRAME_METHOD), UInt8(AMQP_FRAME_HEADER), UInt8(AMQP_FRAME_BODY)])
        #expect(frames.allSatisfy { $0.channel == 1 })

        // The method: basic.publish (60, 40), then its arguments as rabbitmq-c decodes them.
        var pool = amqp_pool_t()
        init_amqp_pool(&pool, 4096)
        defer { empty_amqp_pool(&pool) }
        var method = frames[0].payload
        #expect(Array(method[0..<4]) == [0, 60, 0, 40])
        var decoded: UnsafeMutableRawPointer?
        let status = method.withUnsafeMutableBytes { raw in
            amqp_decode_method(
                AMQP_BASIC_PUBLISH_METHOD, &pool, amqp_bytes_t(len: raw.count - 4, bytes: raw.baseAddress! + 4), &decoded)
        }
        #expect(status == AMQP_STATUS_OK.rawValue)
        let publish = try #require(decoded).assumingMemoryBound(to: amqp_basic_publish_t.self).pointee
        #expect(publish.exchange.string == "ot.commands")
        #expect(publish.routing_key.string == "workorder.open")
        #expect(publish.mandatory == 1)

        // The content header: class 60, weight 0, the body's size, then the properties.
        var header = frames[1].payload
        #expect(Array(header[0..<4]) == [0, 60, 0, 0])
        #expect(header[4..<12].reduce(0) { $0 << 8 | Int($1) } == body.count)
        var propsDecoded: UnsafeMutableRawPointer?
        let propsStatus = header.withUnsafeMutableBytes { raw in
            amqp_decode_properties(UInt16(AMQP_BASIC_CLASS), &pool, amqp_bytes_t(len: raw.count - 12, bytes: raw.baseAddress! + 12), &propsDecoded)
        }
        #expect(propsStatus == AMQP_STATUS_OK.rawValue)
        var strings = StringInterner()
        let read = CCopy.properties(try #require(propsDecoded).assumingMemoryBound(to: amqp_basic_properties_t.self), &strings)
        #expect(read == props)

        #expect(frames[2].payload == body)
    }

    @Test func aBodyLongerThanAFrameIsSplitAndManyPublishesFollowOneAnother() throws {
        let frameMax = 4096
        let long = (0..<10_000).map { UInt8(truncatingIfNeeded: $0) }
        let messages = [
            OutgoingMessage(exchange: "", routingKey: "q", body: long, properties: MessageProperties(messageId: "a"), mandatory: false),
            OutgoingMessage(exchange: "", routingKey: "q", body: [], properties: MessageProperties(messageId: "b")),
            OutgoingMessage(exchange: "", routingKey: "q", body: [7], properties: MessageProperties(messageId: "c")),
        ]
        let (out, statuses) = Self.encode(messages, channel: 5, frameMax: frameMax)
        #expect(statuses == Array(repeating: AMQP_STATUS_OK.rawValue, count: 3))
        let frames = try Self.frames(out.bytes[0..<out.count])
        let types = frames.map(\.type)
        let (m, h, b) = (UInt8(AMQP_FRAME_METHOD), UInt8(AMQP_FRAME_HEADER), UInt8(AMQP_FRAME_BODY))
        // 10,000 bytes in frames of at most 4,088: three body frames; an empty body has none.
        #expect(types == [m, h, b, b, b, m, h, m, h, b])
        #expect(frames.allSatisfy { $0.channel == 5 && $0.payload.count <= frameMax - 8 })
        #expect(frames[2].payload + frames[3].payload + frames[4].payload == long)
        #expect(frames[9].payload == [7])
    }

    @Test func aPropertyTheEncoderRefusesLeavesTheBufferAsItWas() {
        let ok = OutgoingMessage(exchange: "", routingKey: "q", body: [1], properties: MessageProperties(messageId: "a"))
        // A short string is at most 255 bytes.
        let bad = OutgoingMessage(
            exchange: "", routingKey: "q", body: [1], properties: MessageProperties(messageId: String(repeating: "x", count: 300)))
        let (out, statuses) = Self.encode([ok, bad])
        #expect(statuses[0] == AMQP_STATUS_OK.rawValue)
        #expect(statuses[1] != AMQP_STATUS_OK.rawValue)
        let (alone, _) = Self.encode([ok])
        #expect(Array(out.bytes[0..<out.count]) == Array(alone.bytes[0..<alone.count]))
    }
}
