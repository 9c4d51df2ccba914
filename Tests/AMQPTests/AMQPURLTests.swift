import AMQP
import Testing

@Suite struct AMQPURLTests {
    @Test func fullURLIsParsedWithPercentDecodedVhost() throws {
        let url = try AMQPURL(string: "amqp://commercial:s%40cret@broker.internal:5673/ot")
        #expect(url.host == "broker.internal")
        #expect(url.port == 5673)
        #expect(url.user == "commercial")
        #expect(url.password == "s@cret")
        #expect(url.vhost == "ot")
        #expect(!url.tls)
    }

    @Test func defaultsAreGuestLocalhostAndTheRootVhost() throws {
        let url = try AMQPURL(string: "amqp://")
        #expect(url.host == "localhost")
        #expect(url.port == 5672)
        #expect(url.user == "guest" && url.password == "guest")
        #expect(url.vhost == "/")
        #expect(try AMQPURL(string: "amqp://h/%2F").vhost == "/")
    }

    @Test func amqpsUsesTLSOnPort5671WithItsOptions() throws {
        let url = try AMQPURL(string: "amqps://u:p@h/ot?cacertfile=/etc/ca.pem&verify=false")
        #expect(url.tls)
        #expect(url.port == 5671)
        #expect(url.caCertFile == "/etc/ca.pem")
        #expect(!url.verifyPeer)
    }

    @Test func otherSchemesAndUnknownOptionsAreRejected() {
        #expect(throws: AMQPError.self) { try AMQPURL(string: "http://h/ot") }
        #expect(throws: AMQPError.self) { try AMQPURL(string: "amqp://h/ot?frobnicate=1") }
    }

    @Test func descriptionHidesThePassword() throws {
        let url = try AMQPURL(string: "amqp://u:secret@h:5672/ot")
        #expect(!url.description.contains("secret"))
        #expect(url.description == "amqp://u:***@h:5672/ot")
    }

    @Test func topologyMergeKeepsEachDeclarationOnce() {
        var t = Topology(queues: [.quorum("a")], bindings: [.init(queue: "a", exchange: "x", routingKey: "k")])
        t.merge(Topology(queues: [.quorum("a"), .quorum("b")], bindings: [.init(queue: "a", exchange: "x", routingKey: "k")]))
        #expect(t.queues.map(\.name) == ["a", "b"])
        #expect(t.bindings.count == 1)
        #expect(t.queues[0].arguments["x-queue-type"] == "quorum")
    }
}
