@testable import AMQP
import Testing

/// Content assembly as a value: method, header and body frames in, complete messages out.
@Suite struct FrameAssemblerTests {
    static let deliver = FrameAssembler.Method.deliver(
        consumerTag: "c1", deliveryTag: 7, redelivered: false, exchange: "ot.events", routingKey: "a.b")
    static let props = MessageProperties(contentType: "application/json", messageId: "m-1", userId: "svc")

    /// Feeds a body fragment.
    static func body(_ a: inout FrameAssembler, _ bytes: [UInt8]) throws(FrameAssembler.AssemblyError) -> FrameAssembler.Content? {
        var result: FrameAssembler.Content?
        var failure: FrameAssembler.AssemblyError?
        bytes.withUnsafeBytes { raw in
            do throws(FrameAssembler.AssemblyError) { result = try a.body(raw) } catch { failure = error }
        }
        if let failure { throw failure }
        return result
    }

    @Test func aDeliveryInOneBodyFrameIsCompleteAfterTheBody() throws {
        var a = FrameAssembler()
        try a.method(Self.deliver)
        #expect(a.isAssembling)
        #expect(try a.header(bodySize: 5, properties: Self.props) == nil)
        let content = try Self.body(&a, Array("hello".utf8))
        #expect(content == .init(method: Self.deliver, properties: Self.props, body: Array("hello".utf8)))
        #expect(!a.isAssembling)
    }

    @Test func aBodySplitOverSeveralFramesIsJoinedInOrder() throws {
        var a = FrameAssembler()
        try a.method(Self.deliver)
        _ = try a.header(bodySize: 10, properties: Self.props)
        #expect(try Self.body(&a, [0, 1, 2]) == nil)
        #expect(try Self.body(&a, [3, 4, 5, 6]) == nil)
        #expect(try Self.body(&a, []) == nil, "an empty body frame changes nothing")
        let content = try Self.body(&a, [7, 8, 9])
        #expect(content?.body == Array(0...9))
        #expect(content?.properties == Self.props)
    }

    @Test func aZeroLengthBodyIsCompleteWithTheHeader() throws {
        var a = FrameAssembler()
        try a.method(Self.deliver)
        let content = try a.header(bodySize: 0, properties: Self.props)
        #expect(content == .init(method: Self.deliver, properties: Self.props, body: []))
        #expect(!a.isAssembling)
        #expect(throws: FrameAssembler.AssemblyError.bodyWithoutHeader) { try Self.body(&a, [1]) }
    }

    @Test func contentsFollowOneAnother() throws {
        var a = FrameAssembler()
        let returned = FrameAssembler.Method.returned(replyCode: 312, replyText: "NO_ROUTE", exchange: "x", routingKey: "k")
        let getOk = FrameAssembler.Method.getOk(deliveryTag: 1, redelivered: true, exchange: "", routingKey: "q", messageCount: 4)
        for (i, method) in [Self.deliver, returned, getOk].enumerated() {
            try a.method(method)
            _ = try a.header(bodySize: 1, properties: MessageProperties(messageId: "m\(i)"))
            let content = try Self.body(&a, [UInt8(i)])
            #expect(content?.method == method && content?.body == [UInt8(i)] && content?.properties.messageId == "m\(i)")
        }
        try a.otherMethod()
    }

    @Test func aHeaderWithoutAMethodIsAnError() {
        var a = FrameAssembler()
        #expect(throws: FrameAssembler.AssemblyError.headerWithoutMethod) { try a.header(bodySize: 1, properties: Self.props) }
    }

    @Test func aBodyWithoutAHeaderIsAnError() throws {
        var a = FrameAssembler()
        #expect(throws: FrameAssembler.AssemblyError.bodyWithoutHeader) { try Self.body(&a, [1]) }
        try a.method(Self.deliver)
        #expect(throws: FrameAssembler.AssemblyError.bodyWithoutHeader) { try Self.body(&a, [1]) }
        #expect(!a.isAssembling, "an error leaves the assembler idle")
    }

    @Test func aNewMethodBeforeTheContentIsCompleteIsAnError() throws {
        var a = FrameAssembler()
        try a.method(Self.deliver)
        #expect(throws: FrameAssembler.AssemblyError.methodBeforeContentComplete) { try a.method(Self.deliver) }
        try a.method(Self.deliver)
        _ = try a.header(bodySize: 4, properties: Self.props)
        _ = try Self.body(&a, [1, 2])
        #expect(throws: FrameAssembler.AssemblyError.methodBeforeContentComplete) { try a.otherMethod() }
        #expect(!a.isAssembling)
    }

    @Test func aSecondHeaderIsAnError() throws {
        var a = FrameAssembler()
        try a.method(Self.deliver)
        _ = try a.header(bodySize: 4, properties: Self.props)
        #expect(throws: FrameAssembler.AssemblyError.duplicateHeader) { try a.header(bodySize: 4, properties: Self.props) }
    }

    @Test func moreBodyThanAnnouncedIsAnError() throws {
        var a = FrameAssembler()
        try a.method(Self.deliver)
        _ = try a.header(bodySize: 3, properties: Self.props)
        _ = try Self.body(&a, [1, 2])
        #expect(throws: FrameAssembler.AssemblyError.bodyOverrun(expected: 3, received: 5)) { try Self.body(&a, [3, 4, 5]) }
        #expect(!a.isAssembling)
        try a.method(Self.deliver)
        _ = try a.header(bodySize: 1, properties: Self.props)
        #expect(throws: FrameAssembler.AssemblyError.bodyOverrun(expected: 1, received: 2)) { try Self.body(&a, [1, 2]) }
    }

    @Test func resetForgetsAContentInProgress() throws {
        var a = FrameAssembler()
        try a.method(Self.deliver)
        _ = try a.header(bodySize: 3, properties: Self.props)
        a.reset()
        #expect(!a.isAssembling)
        try a.method(Self.deliver)
        #expect(try a.header(bodySize: 0, properties: Self.props)?.body == [])
    }

    @Test func everyOutOfOrderFrameAfterEveryPrefixIsRejectedOrAccepted() throws {
        // Exhaustive over short frame sequences: an assembler fed any sequence either completes
        // contents exactly when a valid method/header/body sequence ends, or throws.
        enum F: CaseIterable { case method, other, header0, header2, body1 }
        func step(_ a: inout FrameAssembler, _ f: F) throws(FrameAssembler.AssemblyError) -> Bool {
            switch f {
            case .method:
                try a.method(Self.deliver)
                return false
            case .other:
                try a.otherMethod()
                return false
            case .header0: return try a.header(bodySize: 0, properties: Self.props) != nil
            case .header2: return try a.header(bodySize: 2, properties: Self.props) != nil
            case .body1: return try Self.body(&a, [9]) != nil
            }
        }
        func run(_ seq: [F]) -> (completed: Int, failed: Bool) {
            var a = FrameAssembler()
            var completed = 0
            for f in seq {
                do throws(FrameAssembler.AssemblyError) {
                    if try step(&a, f) { completed += 1 }
                } catch {
                    return (completed, true)
                }
            }
            return (completed, false)
        }
        // A reference model of the protocol's grammar.
        func model(_ seq: [F]) -> (completed: Int, failed: Bool) {
            enum S { case idle, header, body(Int) }
            var s = S.idle
            var completed = 0
            for f in seq {
                switch (s, f) {
                case (.idle, .method): s = .header
                case (.idle, .other): break
                case (.header, .header0): s = .idle; completed += 1
                case (.header, .header2): s = .body(2)
                case (.body(let left), .body1): if left == 1 { s = .idle; completed += 1 } else { s = .body(left - 1) }
                default: return (completed, true)
                }
            }
            return (completed, false)
        }
        var sequences: [[F]] = [[]]
        for _ in 0..<6 { sequences = sequences.flatMap { s in F.allCases.map { s + [$0] } } }
        for seq in sequences {
            let got = run(seq)
            let want = model(seq)
            #expect(got.completed == want.completed && got.failed == want.failed, "\(seq)")
        }
    }
}
