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

    private enum State: Sendable {
        case idle
        case awaitingHeader(Method)
        case awaitingBody(Method, MessageProperties, expected: UInt64, body: [UInt8])
    }

    private var state = State.idle

    init() {}

    /// Whether a content has started and is not complete yet.
    var isAssembling: Bool {
        if case .idle = state { return false }
        return true
    }

    /// A content method: starts a content.
    mutating func method(_ method: Method) throws(AssemblyError) {
        guard case .idle = state else {
            state = .idle
            throw .methodBeforeContentComplete
        }
        state = .awaitingHeader(method)
    }

    /// Any other method frame on the channel: allowed only between contents.
    mutating func otherMethod() throws(AssemblyError) {
        guard case .idle = state else {
            state = .idle
            throw .methodBeforeContentComplete
        }
    }

    /// The content header: properties and body size. Completes a content with an empty body.
    mutating func header(bodySize: UInt64, properties: MessageProperties) throws(AssemblyError) -> Content? {
        switch state {
        case .idle:
            throw .headerWithoutMethod
        case .awaitingBody:
            state = .idle
            throw .duplicateHeader
        case .awaitingHeader(let method):
            if bodySize == 0 {
                state = .idle
                return Content(method: method, properties: properties, body: [])
            }
            state = .awaitingBody(method, properties, expected: bodySize, body: [])
            return nil
        }
    }

    /// A body frame: its bytes are copied. Completes the content when the announced size is reached.
    mutating func body(_ fragment: UnsafeRawBufferPointer) throws(AssemblyError) -> Content? {
        guard case .awaitingBody(let method, let properties, let expected, var body) = state else {
            state = .idle
            throw .bodyWithoutHeader
        }
        // Drop the state's reference first so that `body` is uniquely referenced and grows in place.
        state = .idle
        let received = UInt64(body.count) + UInt64(fragment.count)
        if received > expected { throw .bodyOverrun(expected: expected, received: received) }
        if body.isEmpty && received == expected {
            // The usual case: the whole body in one frame, one allocation of the exact size.
            let bytes = [UInt8](unsafeUninitializedCapacity: fragment.count) { buffer, count in
                if let base = fragment.baseAddress, fragment.count > 0 {
                    buffer.baseAddress!.initialize(from: base.assumingMemoryBound(to: UInt8.self), count: fragment.count)
                }
                count = fragment.count
            }
            return Content(method: method, properties: properties, body: bytes)
        }
        if body.isEmpty { body.reserveCapacity(Int(min(expected, 1 << 24))) }
        body.append(contentsOf: fragment.assumingMemoryBound(to: UInt8.self))
        if received == expected { return Content(method: method, properties: properties, body: body) }
        state = .awaitingBody(method, properties, expected: expected, body: body)
        return nil
    }

    /// Forgets a content in progress (the channel closed).
    mutating func reset() { state = .idle }
}
