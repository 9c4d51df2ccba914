/// Assembles AMQP content on one channel — a content method (`basic.deliver`, `basic.return`,
/// `basic.get-ok`), then a header frame, then body frames — into complete messages, as a value with
/// no I/O.
///
/// The I/O thread copies each frame out of rabbitmq-c's buffer into Swift values and feeds them in
/// order; a call returns the message its frame completed. Frames out of the order the protocol
/// prescribes (a header with no method before it, a body with no header, a new content method or
/// any other method on the channel before the body is complete, more body bytes than the header
/// announced) throw an ``AssemblyError`` and leave the assembler idle: the connection is then
/// beyond repair.
struct FrameAssembler: Sendable {
    /// The method that starts a content, with the fields the wrapper keeps.
    enum Method: Sendable, Equatable {
        case deliver(consumerTag: String, deliveryTag: UInt64, redelivered: Bool, exchange: String, routingKey: String)
        case returned(replyCode: Int, replyText: String, exchange: String, routingKey: String)
        case getOk(deliveryTag: UInt64, redelivered: Bool, exchange: String, routingKey: String, messageCount: UInt32)
    }

    /// A complete message: its method, properties and body.
    struct Content: Sendable, Equatable {
        var method: Method
        var properties: MessageProperties
        var body: [UInt8]
    }

    /// A frame arrived out of the protocol's order.
    enum AssemblyError: Error, Sendable, Equatable, CustomStringConvertible {
        /// A content header with no content method before it.
        case headerWithoutMethod
        /// A body frame with no content header before it.
        case bodyWithoutHeader
        /// A method frame while a content was still incomplete.
        case methodBeforeContentComplete
        /// A second content header for the same content.
        case duplicateHeader
        /// More body bytes than the content header announced.
        case bodyOverrun(expected: UInt64, received: UInt64)

        var description: String {
            switch self {
            case .headerWithoutMethod: "content header frame without a content method"
            case .bodyWithoutHeader: "content body frame without a content header"
            case .methodBeforeContentComplete: "method frame before the previous content was complete"
            case .duplicateHeader: "second content header frame for one content"
            case .bodyOverrun(let expected, let received): "content body of \(received) bytes, header announced \(expected)"
            }
        }
    }

    private enum Phase: Sendable {
        case idle
        case awaitingHeader
        case awaitingBody
    }

    // The content in progress, piece by piece: each step moves a value in, the last one moves them
    // all out (`take`), with no placeholder to copy and no copy of the properties or the body.
    private var phase = Phase.idle
    private var method: Method?
    private var properties: MessageProperties?
    private var body: [UInt8] = []
    private var expected: UInt64 = 0

    init() {}

    /// Whether a content has started and is not complete yet.
    var isAssembling: Bool { phase != .idle }

    /// A content method: starts a content.
    mutating func method(_ method: consuming Method) throws(AssemblyError) {
        guard phase == .idle else {
            reset()
            throw .methodBeforeContentComplete
        }
        self.method = method
        phase = .awaitingHeader
    }

    /// Any other method frame on the channel: allowed only between contents.
    mutating func otherMethod() throws(AssemblyError) {
        guard phase == .idle else {
            reset()
            throw .methodBeforeContentComplete
        }
    }

    /// The content header: properties and body size. Completes a content with an empty body.
    mutating func header(bodySize: UInt64, properties: consuming MessageProperties) throws(AssemblyError) -> Content? {
        switch phase {
        case .idle:
            throw .headerWithoutMethod
        case .awaitingBody:
            reset()
            throw .duplicateHeader
        case .awaitingHeader:
            self.properties = properties
            if bodySize == 0 { return complete() }
            expected = bodySize
            phase = .awaitingBody
            return nil
        }
    }

    /// A body frame: its bytes are copied. Completes the content when the announced size is reached.
    mutating func body(_ fragment: UnsafeRawBufferPointer) throws(AssemblyError) -> Content? {
        guard phase == .awaitingBody else {
            reset()
            throw .bodyWithoutHeader
        }
        let received = UInt64(body.count) + UInt64(fragment.count)
        if received > expected {
            let announced = expected
            reset()
            throw .bodyOverrun(expected: announced, received: received)
        }
        if body.isEmpty && received == expected {
            // The usual case: the whole body in one frame, one allocation of the exact size.
            body = [UInt8](unsafeUninitializedCapacity: fragment.count) { buffer, count in
                if let base = fragment.baseAddress, fragment.count > 0 {
                    buffer.baseAddress!.initialize(from: base.assumingMemoryBound(to: UInt8.self), count: fragment.count)
                }
                count = fragment.count
            }
            return complete()
        }
        if body.isEmpty { body.reserveCapacity(Int(min(expected, 1 << 24))) }
        body.append(contentsOf: fragment.assumingMemoryBound(to: UInt8.self))
        return received == expected ? complete() : nil
    }

    /// Moves the finished content out and goes back to idle.
    private mutating func complete() -> Content {
        var bytes: [UInt8] = []
        swap(&bytes, &body)
        phase = .idle
        expected = 0
        return Content(method: method.take()!, properties: properties.take()!, body: bytes)
    }

    /// Forgets a content in progress (the channel closed).
    mutating func reset() {
        phase = .idle
        method = nil
        properties = nil
        body = []
        expected = 0
    }
}

extension FrameAssembler.Content {
    /// The content's parts, moved out.
    consuming func parts() -> (method: FrameAssembler.Method, properties: MessageProperties, body: [UInt8]) {
        (method, properties, body)
    }
}
