import AMQP
import Console
import Contracts
import Runtime
import Testing

/// The console's event log and its replay, without a broker: the stream's declaration and
/// bindings, the retention values RabbitMQ accepts, and what a replayed event looks like.
@Suite("console event log and replay")
struct ConsoleEventLogTests {
    @Test func theLogIsAStreamBoundExactlyLikeTheConsolesEventsQueue() throws {
        let topology = ConsoleService.definition.topology(retryDelays: ServiceCatalog.defaultRetryDelays).topology
        let log = try #require(topology.queues.first { $0.name == ConsoleEventLog.queue })
        #expect(log.durable && !log.exclusive && !log.autoDelete)
        #expect(log.arguments == ["x-queue-type": "stream", "x-max-age": "400D"])
        func keys(_ queue: String) -> Set<String> {
            Set(topology.bindings.filter { $0.queue == queue && $0.exchange == PlatformTopology.events }.map(\.routingKey))
        }
        #expect(!keys(ConsoleEventLog.queue).isEmpty && keys(ConsoleEventLog.queue) == keys("console.events"))
        #expect(!keys(ConsoleEventLog.queue).contains { $0.contains("#") || $0.contains("*") })
        #expect(topology.bindings.filter { $0.queue == ConsoleEventLog.queue }.allSatisfy { $0.exchange == PlatformTopology.events })
        // Another retention changes the declaration only.
        let shorter = ConsoleService.definition(logMaxAge: "30D").topology(retryDelays: ServiceCatalog.defaultRetryDelays).topology
        #expect(shorter.queues.first { $0.name == ConsoleEventLog.queue }?.arguments["x-max-age"] == "30D")
        #expect(shorter.bindings == topology.bindings)
        try ConsoleService.definition.validate()
        #expect(ConsoleReplay.inputQueue(service: "console") == "console.events")
    }

    @Test func maxAgesAreWhatRabbitMQAccepts() {
        for ok in ["400D", "1Y", "13M", "90m", "36h", "30s", "007s"] { #expect(Topology.Queue.isValidMaxAge(ok), "\(ok)") }
        for bad in ["", "D", "0D", "5", "1d", "1.5D", " 1D", "1D ", "-1D", "1W", "١D"] {
            #expect(!Topology.Queue.isValidMaxAge(bad), "\(bad)")
        }
    }

    func delivery(userId: String?, headers: [String: FieldValue] = [:]) -> Delivery {
        var h = headers
        h["x-stream-offset"] = .int(42)
        h["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        return Delivery(
            deliveryTag: 7, session: 1, redelivered: false, exchange: PlatformTopology.events, routingKey: WorkOrderDispatched.type,
            consumerTag: "c",
            properties: MessageProperties(
                contentType: "application/cloudevents+json", headers: h, priority: 2, correlationId: "corr-1", messageId: "m-1",
                timestamp: 1_700_000_000, type: WorkOrderDispatched.type, userId: userId, appId: "dispatch"),
            body: Array(#"{"id":"m-1"}"#.utf8))
    }

    @Test func aReplayedEventIsTheSameMessageOnBehalfOfItsPublisher() throws {
        let d = delivery(userId: "dispatch")
        let m = try #require(ConsoleReplay.republication(of: d, as: "console", to: "console.events"))
        #expect(m.exchange == "" && m.routingKey == "console.events" && m.mandatory)
        #expect(m.body == d.body)
        var expected = d.properties
        expected.headers["x-stream-offset"] = nil
        expected.headers[Provenance.userHeader] = "dispatch"
        expected.userId = "console"
        #expect(m.properties == expected)
        // The console accepts it from the same publisher as the first time.
        #expect(Provenance(ownUser: "console").publisher(of: m.properties) == "dispatch")
    }

    @Test func aReplayKeepsWhoTheConsoleAcceptedAnEventFromAndNothingMore() throws {
        let console = Provenance(ownUser: "console")
        // A dead letter replayed by otctl on behalf of dispatch: still dispatch's.
        let relayed = delivery(userId: "otctl", headers: [Provenance.userHeader: "dispatch"])
        #expect(console.publisher(of: relayed.properties) == "dispatch")
        let r = try #require(ConsoleReplay.republication(of: relayed, as: "console", to: "console.events"))
        #expect(console.publisher(of: r.properties) == "dispatch")
        // A header set by a participant that may not relay was ignored the first time: the replay
        // must not make it count (the event stays billing's, which the console refuses again).
        let forged = delivery(userId: "billing", headers: [Provenance.userHeader: "dispatch"])
        #expect(console.publisher(of: forged.properties) == "billing")
        let f = try #require(ConsoleReplay.republication(of: forged, as: "console", to: "console.events"))
        #expect(f.properties.headers[Provenance.userHeader] == "billing" && console.publisher(of: f.properties) == "billing")
        // Without user_id the publisher was unknown (refused): not replayed.
        #expect(ConsoleReplay.republication(of: delivery(userId: nil), as: "console", to: "console.events") == nil)
    }
}
