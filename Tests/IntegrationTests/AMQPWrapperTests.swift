import AMQP
import Foundation
import Testing

/// The AMQP wrapper against the real broker.
@Suite("AMQP wrapper against RabbitMQ", .serialized)
struct AMQPWrapperTests {
    func message(_ key: String, _ text: String, exchange: String = "") -> OutgoingMessage {
        OutgoingMessage(exchange: exchange, routingKey: key, body: Array(text.utf8), properties: MessageProperties(messageId: text))
    }

    @Test func anUnroutableMandatoryMessageIsReturnedNotLost() async throws {
        try await withTestSystem("amqp-ret") { system in
            let c = try await system.connect("wrapper")
            try await c.declare(Topology(exchanges: [.init(name: "t.x", kind: .topic)], queues: [.quorum("t.q")], bindings: [.init(queue: "t.q", exchange: "t.x", routingKey: "a.*")]))
            let outcomes = try await c.publish([message("a.b", "routed", exchange: "t.x"), message("z.z", "nowhere", exchange: "t.x"), message("a.c", "routed-2", exchange: "t.x")])
            #expect(outcomes[0] == .confirmed && outcomes[2] == .confirmed)
            guard case .returned(let code, let text) = outcomes[1] else {
                Issue.record("expected a return, got \(outcomes[1])")
                return
            }
            #expect(code == 312 && text == "NO_ROUTE")
            #expect(try await c.queueStatus("t.q").messages == 2)
        }
    }

    @Test func consumersGetPrefetchedDeliveriesAndNackRequeueRedelivers() async throws {
        try await withTestSystem("amqp-con") { system in
            let c = try await system.connect("wrapper")
            try await c.declare(Topology(queues: [.quorum("t.q")]))
            _ = try await c.publish((0..<20).map { message("t.q", "m\($0)") })
            let consumer = try await c.consume(queue: "t.q", prefetch: 5)
            var bodies: [String] = []
            var redelivered = 0
            for await d in consumer.deliveries {
                let text = String(decoding: d.body, as: UTF8.self)
                if text == "m3" && !d.redelivered {
                    c.nack(d, requeue: true)
                    continue
                }
                if d.redelivered { redelivered += 1 }
                bodies.append(text)
                c.ack(d)
                if bodies.count == 20 { break }
            }
            #expect(Set(bodies) == Set((0..<20).map { "m\($0)" }))
            #expect(redelivered == 1, "the nacked message came back once, flagged redelivered")
            try await c.cancel(consumer)
            #expect(await eventually(timeout: .seconds(5)) { (try? await c.queueStatus("t.q").messages) == 0 })
        }
    }

    @Test func acksOneByOneFromManyDeliveriesAreMergedExactly() async throws {
        try await withTestSystem("amqp-acks") { system in
            let c = try await system.connect("wrapper")
            try await c.declare(Topology(queues: [.quorum("t.q")]))
            let n = 3000
            for start in stride(from: 0, to: n, by: 500) {
                let outcomes = try await c.publish((start..<(start + 500)).map { message("t.q", "m\($0)") })
                #expect(outcomes.allSatisfy { $0 == .confirmed })
            }
            let session = c.session
            let consumer = try await c.consume(queue: "t.q", prefetch: 50)
            var seen = Set<String>()
            var nacked = Set<String>()
            var it = consumer.deliveries.makeAsyncIterator()
            while seen.count < n {
                guard let batch = await it.nextBatch() else { break }
                var toAck: [Delivery] = []
                for d in batch {
                    let id = d.properties.messageId ?? ""
                    // Every 100th message once back to the queue, out of order with the acks around it.
                    if id.hasSuffix("00") && !nacked.contains(id) {
                        nacked.insert(id)
                        c.nack(d, requeue: true)
                    } else {
                        seen.insert(id)
                        toAck.append(d)
                    }
                }
                // Half one by one, half as a group, in reverse order.
                for d in toAck.prefix(toAck.count / 2) { c.ack(d) }
                c.ack(toAck.dropFirst(toAck.count / 2).reversed())
            }
            #expect(seen.count == n)
            #expect(c.session == session, "no ack made the broker close the channel")
            try await c.cancel(consumer)
            #expect(await eventually(timeout: .seconds(10)) { (try? await c.queueStatus("t.q").messages) == 0 })
        }
    }

    @Test func anIdleConnectionKeepsItsHeartbeatsAndShutsDownPromptly() async throws {
        try await withTestSystem("amqp-hb") { system in
            let url = try AMQPURL(string: system.amqpURL)
            let c = AMQPConnection(configuration: .init(url: url, name: "idle", heartbeatSeconds: 1), logger: testLogger)
            c.start()
            try await c.waitUntilConnected()
            try await c.declare(Topology(queues: [.quorum("t.q")]))
            let consumer = try await c.consume(queue: "t.q", prefetch: 10)
            let session = c.session
            // Without heartbeats from us the broker would close the connection after about 2 s.
            try await Task.sleep(for: .seconds(5))
            #expect(c.isConnected && c.session == session, "no reconnect while idle")
            #expect(try await c.publish(message("t.q", "after-idle")) == .confirmed)
            var it = consumer.deliveries.makeAsyncIterator()
            let d = try #require(await it.next())
            #expect(d.properties.messageId == "after-idle")
            c.ack(d)
            let start = ContinuousClock.now
            await c.shutdown()
            #expect(ContinuousClock.now - start < .seconds(2), "shutdown took \(ContinuousClock.now - start)")
            #expect(await it.next() == nil, "the deliveries end with the connection")
        }
    }

    @Test func aRejectedDeliveryGoesToTheDeadLetterExchange() async throws {
        try await withTestSystem("amqp-rej") { system in
            let c = try await system.connect("wrapper")
            try await c.declare(
                Topology(queues: [
                    .quorum("t.dead"), .quorum("t.in", arguments: ["x-dead-letter-exchange": "", "x-dead-letter-routing-key": "t.dead"]),
                ]))
            #expect(try await c.publish(message("t.in", "poison")) == .confirmed)
            let fetched = try #require(try await c.get(queue: "t.in"))
            #expect(fetched.delivery.body == Array("poison".utf8))
            c.reject(fetched.delivery, requeue: false)
            #expect(await eventually(timeout: .seconds(5)) { (try? await c.queueStatus("t.dead").messages) == 1 })
            #expect(try await c.get(queue: "t.in") == nil)
            let dead = try #require(try await c.get(queue: "t.dead"))
            #expect(dead.delivery.properties.messageId == "poison")
            c.ack(dead.delivery)
        }
    }
}

/// Broker refusals: topic permissions and `user_id`, against a user with restricted permissions.
extension AMQPWrapperTests {
    @Suite("refusals by the broker", .serialized)
    struct Refusals {
        static let exchange = "t.events"

        /// A broker user of the test's vhost who may publish on `t.events` only routing keys matching
        /// `topicWrite`; removed by `delete()`.
        struct RestrictedUser {
            let system: TestSystem
            let name: String
            let password = "pw-\(UInt32.random(in: 0...UInt32.max))"

            init(_ system: TestSystem, topicWrite: String) throws {
                self.system = system
                name = "test-user-\(UInt32.random(in: 0...UInt32.max))"
                try system.management("PUT", "/api/users/\(name)", body: #"{"password":"\#(password)","tags":""}"#)
                try system.management(
                    "PUT", "/api/permissions/\(system.vhost)/\(name)", body: #"{"configure":".*","write":".*","read":".*"}"#)
                try system.management(
                    "PUT", "/api/topic-permissions/\(system.vhost)/\(name)",
                    body: #"{"exchange":"\#(Refusals.exchange)","write":"\#(topicWrite)","read":".*"}"#)
            }

            func connect(stampUserId: Bool) async throws -> AMQPConnection {
                let url = AMQPURL(host: LocalServers.amqpHost, user: name, password: password, vhost: system.vhost)
                let c = AMQPConnection(
                    configuration: .init(url: url, name: "restricted", heartbeatSeconds: 10, stampUserId: stampUserId),
                    logger: testLogger)
                c.start()
                try await c.waitUntilConnected()
                return c
            }

            func delete() { try? system.management("DELETE", "/api/users/\(name)") }
        }

        /// Runs `body` with a restricted user and a queue `t.q` bound to `t.events` with `#`; the user
        /// and its connections go afterwards.
        func withRestrictedUser(
            _ name: String, topicWrite: String,
            _ body: (TestSystem, RestrictedUser, [AMQPConnection]) async throws -> Void
        ) async throws {
            try await withTestSystem(name) { system in
                let admin = try await system.connect("admin")
                try await admin.declare(
                    Topology(
                        exchanges: [.init(name: Self.exchange, kind: .topic)], queues: [.quorum("t.q")],
                        bindings: [.init(queue: "t.q", exchange: Self.exchange, routingKey: "#")]))
                let user = try RestrictedUser(system, topicWrite: topicWrite)
                var connections: [AMQPConnection] = []
                do {
                    connections.append(try await user.connect(stampUserId: false))
                    connections.append(try await user.connect(stampUserId: true))
                    try await body(system, user, connections)
                } catch {
                    for c in connections { await c.shutdown() }
                    user.delete()
                    throw error
                }
                for c in connections { await c.shutdown() }
                user.delete()
            }
        }

        func message(_ key: String, _ id: String, userId: String? = nil) -> OutgoingMessage {
            OutgoingMessage(
                exchange: Self.exchange, routingKey: key, body: Array(id.utf8),
                properties: MessageProperties(messageId: id, userId: userId))
        }

        /// The AMQPError a publish threw, or nil when it did not throw one.
        func publishError(_ c: AMQPConnection, _ m: OutgoingMessage) async -> AMQPError? {
            do {
                let outcome = try await c.publish(m)
                Issue.record("expected a refusal, got \(outcome)")
                return nil
            } catch let error as AMQPError {
                return error
            } catch {
                Issue.record("expected an AMQPError, got \(error)")
                return nil
            }
        }

        @Test func aTopicPermissionRefusesOnlyThatPublishAndPublishingGoesOn() async throws {
            try await withRestrictedUser("amqp-topic", topicWrite: #"^a\\..*$"#) { system, user, connections in
                let c = connections[0]
                let session = c.session
                #expect(try await c.publish(message("a.one", "allowed-1")) == .confirmed)

                let refused = try #require(await publishError(c, message("b.one", "forbidden")))
                #expect(refused.code == .accessRefused)
                #expect(!refused.isRetryable)
                #expect(refused.replyCode == 403)
                #expect(refused.replyText?.contains("b.one") == true, "the broker's text: \(refused.replyText ?? "-")")
                #expect(refused.messageIndex == 0 && refused.messageId == "forbidden")

                #expect(try await c.publish(message("a.two", "allowed-2")) == .confirmed)
                #expect(c.isConnected && c.session == session, "the channel reopened without a reconnect")

                // In one batch: the refused message is named; the others are retryable, and go through
                // when published again.
                let results = await c.publishResults([
                    message("a.three", "batch-1"), message("b.two", "batch-2"), message("a.four", "batch-3"),
                ])
                guard case .failure(let e) = results[1] else {
                    Issue.record("expected the forbidden message to fail, got \(results[1])")
                    return
                }
                #expect(e.code == .accessRefused && e.messageIndex == 1)
                for i in [0, 2] {
                    switch results[i] {
                    case .success(let outcome): #expect(outcome == .confirmed)
                    case .failure(let error): #expect(error.isRetryable && error.code == .channelClosed, "\(error)")
                    }
                }
                let retried = try await c.publish([message("a.three", "batch-1"), message("a.four", "batch-3")])
                #expect(retried == [.confirmed, .confirmed])
                #expect(await eventually(timeout: .seconds(5)) { (try? await c.queueStatus("t.q").messages) ?? 0 >= 4 })
            }
        }

        @Test func consumersOnTheSameConnectionKeepConsumingAcrossARefusal() async throws {
            try await withRestrictedUser("amqp-topic-con", topicWrite: #"^a\\..*$"#) { system, user, connections in
                let c = connections[1]
                let consumer = try await c.consume(queue: "t.q", prefetch: 10)
                #expect(try await c.publish(message("a.1", "before")) == .confirmed)
                #expect(await publishError(c, message("z.1", "refused"))?.code == .accessRefused)
                #expect(try await c.publish(message("a.2", "after")) == .confirmed)
                var seen: [String] = []
                var users: Set<String?> = []
                for await d in consumer.deliveries {
                    seen.append(String(decoding: d.body, as: UTF8.self))
                    users.insert(d.properties.userId)
                    c.ack(d)
                    if seen.count == 2 { break }
                }
                #expect(seen == ["before", "after"])
                #expect(users == [user.name], "stampUserId put the login user on every publish")
                try await c.cancel(consumer)
            }
        }

        @Test func aForgedUserIdIsRefusedAndDeliveriesCarryThePublishersUser() async throws {
            try await withRestrictedUser("amqp-userid", topicWrite: ".*") { system, user, connections in
                let plain = connections[0]
                let stamping = connections[1]

                // Sent as is, a foreign user_id makes the broker close the channel: 406.
                let forged = try #require(await publishError(plain, message("k", "forged", userId: "someone-else")))
                #expect(forged.code == .preconditionFailed && forged.replyCode == 406)
                #expect(forged.replyText?.contains("someone-else") == true)
                #expect(try await plain.publish(message("k", "anonymous")) == .confirmed)
                #expect(try await plain.publish(message("k", "honest", userId: user.name)) == .confirmed)

                // With stamping, a foreign user_id fails before it is sent; the login user is stamped.
                let local = try #require(await publishError(stamping, message("k", "forged-2", userId: "someone-else")))
                #expect(local.code == .preconditionFailed && local.replyCode == nil)
                #expect(try await stamping.publish(message("k", "stamped")) == .confirmed)

                var users: [String: String] = [:]
                for _ in 0..<3 {
                    let f = try #require(try await plain.get(queue: "t.q"))
                    users[String(decoding: f.delivery.body, as: UTF8.self)] = f.delivery.properties.userId ?? "(none)"
                    plain.ack(f.delivery)
                }
                #expect(users == ["anonymous": "(none)", "honest": user.name, "stamped": user.name])
                #expect(try await plain.get(queue: "t.q") == nil, "the refused ones never reached the queue")
            }
        }

        @Test func aRefusedQueueOperationClosesOnlyItsChannel() async throws {
            try await withTestSystem("amqp-chan") { system in
                let c = try await system.connect("wrapper")
                try await c.declare(Topology(queues: [.quorum("t.q")]))
                let consumer = try await c.consume(queue: "t.q", prefetch: 10)
                let session = c.session
                do {
                    _ = try await c.queueStatus("t.missing")
                    Issue.record("a passive declare of a missing queue succeeded")
                } catch let error as AMQPError {
                    #expect(error.code == .brokerRefused && error.replyCode == 404)
                }
                #expect(c.session == session, "the consumer channel was not touched")
                do {
                    _ = try await c.get(queue: "t.missing")
                    Issue.record("basic.get of a missing queue succeeded")
                } catch let error as AMQPError {
                    #expect(error.code == .brokerRefused && error.replyCode == 404)
                }
                #expect(c.session == session + 1, "the consumer channel reopened: a new session")
                #expect(c.isConnected)
                // The consumer was resubscribed on the new channel.
                _ = try await c.publish(OutgoingMessage(exchange: "", routingKey: "t.q", body: Array("x".utf8)))
                var it = consumer.deliveries.makeAsyncIterator()
                let d = try #require(await it.next())
                #expect(d.body == Array("x".utf8) && d.session == session + 1)
                c.ack(d)
                try await c.cancel(consumer)
            }
        }
    }
}

extension AMQPWrapperTests {
    /// Consumer arguments reach `basic.consume`: a stream queue (declared with
    /// ``Topology/Queue/stream(_:maxAge:arguments:)``) is read from `x-stream-offset` "first" and
    /// from a given offset, again and again (reading removes nothing; acks only give credit back,
    /// with a prefetch smaller than the stream); without arguments a stream consumer starts at the
    /// next message; and a consumer that resubscribes (its channel reopened) does so with its
    /// arguments.
    @Test func consumerArgumentsReadAStreamFromItsFirstOffsetOrAGivenOne() async throws {
        try await withTestSystem("amqp-stream") { system in
            let c = try await system.connect("wrapper")
            // Should a read wait forever, the connection's end ends every consumer's deliveries.
            let watchdog = Task {
                try await Task.sleep(for: .seconds(90))
                await c.shutdown()
            }
            defer { watchdog.cancel() }
            try await c.declare(Topology(queues: [.stream("t.log", maxAge: "1D")]))
            let outcomes = try await c.publish((0..<30).map { message("t.log", "m\($0)") })
            #expect(outcomes.allSatisfy { $0 == .confirmed })

            /// Reads `count` deliveries with these consumer arguments (acking each: a stream's
            /// deliveries are never nacked), then cancels the consumer and acks what still came.
            func read(_ arguments: [String: FieldValue], count: Int) async throws -> [Delivery] {
                let consumer = try await c.consume(queue: "t.log", prefetch: 7, arguments: arguments)
                var it = consumer.deliveries.makeAsyncIterator()
                var got: [Delivery] = []
                while got.count < count, let d = await it.next() {
                    got.append(d)
                    c.ack(d)
                }
                try await c.cancel(consumer)
                while let d = await it.next() { c.ack(d) }
                return got
            }
            let all = try await read(["x-stream-offset": "first"], count: 30)
            #expect(all.map { $0.properties.messageId } == (0..<30).map { "m\($0)" })
            let offsets = all.compactMap { $0.properties.headers["x-stream-offset"]?.intValue }
            #expect(offsets.count == 30 && zip(offsets, offsets.dropFirst()).allSatisfy { $0 < $1 }, "\(offsets)")
            // Nothing was consumed away: from the first offset again, the same messages.
            let twice = try await read(["x-stream-offset": "first"], count: 30)
            #expect(twice.map { $0.properties.messageId } == all.map { $0.properties.messageId })
            // From the offset of m20: m20 on.
            if offsets.count == 30 {
                let from20 = try await read(["x-stream-offset": .int(offsets[20])], count: 10)
                #expect(from20.map { $0.properties.messageId } == (20..<30).map { "m\($0)" })
            }

            // Without arguments: the next message only.
            let next = try await c.consume(queue: "t.log", prefetch: 7)
            #expect(try await c.publish(message("t.log", "m30")) == .confirmed)
            var nextIt = next.deliveries.makeAsyncIterator()
            let first = try #require(await nextIt.next())
            #expect(first.properties.messageId == "m30")
            c.ack(first)
            try await c.cancel(next)
            while let d = await nextIt.next() { c.ack(d) }

            // A consumer from "first" whose channel reopens resubscribes from "first" again.
            let again = try await c.consume(queue: "t.log", prefetch: 50, arguments: ["x-stream-offset": "first"])
            var againIt = again.deliveries.makeAsyncIterator()
            var seen: [String] = []
            while seen.count < 31, let d = await againIt.next() {
                seen.append(d.properties.messageId ?? "")
                c.ack(d)
            }
            #expect(seen == (0...30).map { "m\($0)" })
            let session = c.session
            do {
                _ = try await c.get(queue: "t.missing")  // 404 closes the consumer channel
                Issue.record("basic.get of a missing queue succeeded")
            } catch let error as AMQPError {
                #expect(error.replyCode == 404)
            }
            #expect(await eventually(timeout: .seconds(5)) { c.session == session + 1 })
            var reread: [String] = []
            while reread.count < 31, let d = await againIt.next() {
                reread.append(d.properties.messageId ?? "")
                c.ack(d)
            }
            #expect(reread == (0...30).map { "m\($0)" })
            try await c.cancel(again)
            while let d = await againIt.next() { c.ack(d) }

            // Cancelled with deliveries in flight: they still reach the consumer (to be acked),
            // none is given back with a reject, which RabbitMQ refuses for a stream by closing
            // the connection (540).
            _ = try await c.publish((31..<400).map { message("t.log", "m\($0)") })
            let stable = c.session
            for _ in 0..<5 {
                let busy = try await c.consume(queue: "t.log", prefetch: 200, arguments: ["x-stream-offset": "first"])
                var busyIt = busy.deliveries.makeAsyncIterator()
                let head = try #require(await busyIt.next())
                c.ack(head)
                try await c.cancel(busy)
                var rest = 0
                while let d = await busyIt.next() {
                    rest += 1
                    c.ack(d)
                }
                #expect(rest < 400)
            }
            try await Task.sleep(for: .milliseconds(500))
            #expect(c.isConnected && c.session == stable, "the connection stayed up")
            #expect(try await c.publish(message("t.log", "after")) == .confirmed)
        }
    }
}
