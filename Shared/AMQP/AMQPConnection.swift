import CRabbitMQ
import Foundation
import Logging
import Synchronization

/// One AMQP connection with one channel in publisher-confirm mode, driven by a dedicated thread.
///
/// rabbitmq-c is not thread-safe per connection, so every C call for a connection happens on that
/// connection's own I/O thread; callers talk to it through async methods that enqueue commands.
/// Waits on the socket are bounded (50 ms) so commands and shutdown are served promptly, and
/// heartbeats keep flowing while the connection is idle.
///
/// The connection recovers by itself: when the socket or the broker fails, it reconnects with
/// exponential backoff, re-declares every topology it was given, and resubscribes its consumers.
/// Publishes in flight at that moment fail with ``AMQPError/Code/connectionLost`` (their outcome is
/// unknown, so callers publish again and consumers deduplicate), and acks for deliveries of the
/// previous session are dropped (the broker redelivers those messages).
public final class AMQPConnection: Sendable {
    /// How to connect and recover.
    public struct Configuration: Sendable {
        /// Broker address and credentials.
        public var url: AMQPURL
        /// A name for logs and the I/O thread.
        public var name: String
        /// Heartbeat interval negotiated with the broker, in seconds (0 disables).
        public var heartbeatSeconds: Int
        /// Bound on opening the socket and on each synchronous AMQP method.
        public var operationTimeout: Duration
        /// First and largest delay between reconnection attempts.
        public var reconnectBackoff: (initial: Duration, max: Duration)

        public init(
            url: AMQPURL, name: String = "amqp", heartbeatSeconds: Int = 30, operationTimeout: Duration = .seconds(10),
            reconnectBackoff: (initial: Duration, max: Duration) = (.milliseconds(100), .seconds(5))
        ) {
            self.url = url
            self.name = name
            self.heartbeatSeconds = heartbeatSeconds
            self.operationTimeout = operationTimeout
            self.reconnectBackoff = reconnectBackoff
        }
    }

    private let loop: IOLoop

    public init(configuration: Configuration, logger: Logger) {
        self.loop = IOLoop(configuration: configuration, logger: logger)
    }

    deinit {
        assert(!loop.isRunning, "AMQPConnection '\(loop.configuration.name)' deinitialised while running: call shutdown()")
    }

    /// Starts the I/O thread, which connects in the background (idempotent).
    public func start() { loop.start() }

    /// Closes consumers, the channel and the connection, and stops the I/O thread. Publishes still
    /// waiting for confirms get up to two seconds. Idempotent.
    public func shutdown() async { await loop.shutdown() }

    /// Whether the connection is open right now.
    public var isConnected: Bool { loop.shared.withLock { $0.connected } }

    /// Counts successful connects; changes after every reconnect.
    public var session: UInt64 { loop.shared.withLock { $0.session } }

    /// Waits until the connection is open, or throws ``AMQPError/Code/timeout``.
    public func waitUntilConnected(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !isConnected {
            if ContinuousClock.now >= deadline {
                throw AMQPError(.timeout, "not connected to \(loop.configuration.url) within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Declares exchanges, queues and bindings now (when connected) and after every reconnect.
    public func declare(_ topology: Topology) async throws {
        try await loop.submit { .declare(topology, $0) }
    }

    /// Publishes messages with publisher confirms; returns one outcome per message, in order.
    /// Throws when the connection is not open or is lost before every confirm arrived.
    public func publish(_ messages: [OutgoingMessage]) async throws -> [PublishOutcome] {
        if messages.isEmpty { return [] }
        return try await loop.submit { .publish(messages, $0) }
    }

    /// Publishes one message with a publisher confirm.
    public func publish(_ message: OutgoingMessage) async throws -> PublishOutcome {
        try await publish([message])[0]
    }

    /// Starts consuming a queue with manual acknowledgement and the given prefetch. The consumer
    /// survives reconnects: its stream goes on delivering after the connection recovers.
    public func consume(queue: String, prefetch: UInt16) async throws -> AMQPConsumer {
        let tag = "\(loop.configuration.name).\(queue).\(UUID().uuidString.prefix(8).lowercased())"
        let (stream, continuation) = AsyncStream.makeStream(of: Delivery.self)
        let registration = ConsumerRegistration(tag: tag, queue: queue, prefetch: prefetch, continuation: continuation)
        try await loop.submit { .consume(registration, $0) }
        return AMQPConsumer(tag: tag, queue: queue, deliveries: stream)
    }

    /// Stops a consumer (`basic.cancel`); its stream finishes. Messages already delivered to it stay
    /// unacknowledged until acked or nacked.
    public func cancel(_ consumer: AMQPConsumer) async throws {
        try await loop.submit { .cancel(consumer.tag, $0) }
    }

    /// Acknowledges a delivery (dropped if it came from an earlier session).
    public func ack(_ delivery: Delivery, multiple: Bool = false) {
        loop.enqueue(.ack(delivery.deliveryTag, session: delivery.session, multiple: multiple))
    }

    /// Negatively acknowledges a delivery; with `requeue: false` the queue dead-letters or drops it.
    public func nack(_ delivery: Delivery, requeue: Bool, multiple: Bool = false) {
        loop.enqueue(.nack(delivery.deliveryTag, session: delivery.session, multiple: multiple, requeue: requeue))
    }

    /// Rejects a delivery (`basic.reject`): with `requeue: false` the queue dead-letters or drops it.
    public func reject(_ delivery: Delivery, requeue: Bool) {
        loop.enqueue(.reject(delivery.deliveryTag, session: delivery.session, requeue: requeue))
    }

    /// Fetches one message with `basic.get` (manual ack), or nil when the queue is empty.
    public func get(queue: String) async throws -> FetchedMessage? {
        try await loop.submit { .get(queue, $0) }
    }

    /// How many messages are ready in a queue and how many consumers it has (passive declare).
    public func queueStatus(_ queue: String) async throws -> QueueStatus {
        try await loop.submit { .status(queue, $0) }
    }

    /// Removes every ready message of a queue; returns how many were removed.
    public func purge(queue: String) async throws -> UInt32 {
        try await loop.submit { .purge(queue, $0) }
    }

    /// Deletes a queue.
    public func deleteQueue(_ queue: String) async throws {
        try await loop.submit { .deleteQueue(queue, $0) }
    }
}

/// A running consumer: its tag and the stream of its deliveries.
public struct AMQPConsumer: Sendable {
    public let tag: String
    public let queue: String
    public let deliveries: AsyncStream<Delivery>
}

/// Counts reported by a passive queue declare.
public struct QueueStatus: Sendable, Equatable {
    public var messages: UInt32
    public var consumers: UInt32
}

// MARK: - The I/O loop

typealias Completion<T> = @Sendable (Result<T, AMQPError>) -> Void

struct ConsumerRegistration: Sendable {
    let tag: String
    let queue: String
    let prefetch: UInt16
    let continuation: AsyncStream<Delivery>.Continuation
}

enum Command: Sendable {
    case publish([OutgoingMessage], Completion<[PublishOutcome]>)
    case ack(UInt64, session: UInt64, multiple: Bool)
    case nack(UInt64, session: UInt64, multiple: Bool, requeue: Bool)
    case reject(UInt64, session: UInt64, requeue: Bool)
    case declare(Topology, Completion<Void>)
    case consume(ConsumerRegistration, Completion<Void>)
    case cancel(String, Completion<Void>)
    case get(String, Completion<FetchedMessage?>)
    case status(String, Completion<QueueStatus>)
    case purge(String, Completion<UInt32>)
    case deleteQueue(String, Completion<Void>)

    /// Fails the command's caller (acks have none).
    func fail(_ error: AMQPError) {
        switch self {
        case .publish(_, let c): c(.failure(error))
        case .declare(_, let c), .consume(_, let c), .cancel(_, let c), .deleteQueue(_, let c): c(.failure(error))
        case .get(_, let c): c(.failure(error))
        case .status(_, let c): c(.failure(error))
        case .purge(_, let c): c(.failure(error))
        case .ack, .nack, .reject: break
        }
    }
}

/// The thread-confined engine behind ``AMQPConnection``.
///
/// `@unchecked Sendable` is sound because the fields fall in two groups: `shared` is protected by
/// its mutex and is the only state touched from other threads; everything else (the rabbitmq-c
/// connection pointer, confirm bookkeeping, partial content) is read and written only on the
/// dedicated I/O thread started in `start()`, which is the sole caller of every `io*` method.
final class IOLoop: @unchecked Sendable {
    struct Shared {
        var commands: [Command] = []
        var wakePending = false
        var started = false
        var stopRequested = false
        var stopped = false
        var connected = false
        var session: UInt64 = 0
        var stopWaiters: [CheckedContinuation<Void, Never>] = []
    }

    let configuration: AMQPConnection.Configuration
    let logger: Logger
    let shared = Mutex(Shared())
    private let wakeRead: Int32
    private let wakeWrite: Int32

    // MARK: I/O-thread-confined state
    private var conn: amqp_connection_state_t?
    private var session: UInt64 = 0
    private var topology = Topology()
    private var declareWaiters: [Completion<Void>] = []
    private var consumers: [String: ConsumerRegistration] = [:]
    private var nextPublishSeq: UInt64 = 1
    private var pending: [PendingConfirm] = []
    private var pendingHead = 0
    private var returned: [String: (Int, String)] = [:]
    private var content: PartialContent?
    private var pendingGet: (Completion<FetchedMessage?>, count: UInt32)?

    final class PublishBatch {
        var outcomes: [PublishOutcome?]
        var remaining: Int
        let completion: Completion<[PublishOutcome]>
        init(count: Int, completion: @escaping Completion<[PublishOutcome]>) {
            outcomes = Array(repeating: nil, count: count)
            remaining = count
            self.completion = completion
        }
        /// Fails the whole batch once; later confirms for it are ignored.
        func fail(_ error: AMQPError) {
            guard remaining >= 0 else { return }
            remaining = -1
            completion(.failure(error))
        }
        func resolve(_ index: Int, _ outcome: PublishOutcome) {
            guard remaining > 0, outcomes[index] == nil else { return }
            outcomes[index] = outcome
            remaining -= 1
            if remaining == 0 { completion(.success(outcomes.map { $0! })) }
        }
    }

    struct PendingConfirm {
        let seq: UInt64
        let batch: PublishBatch
        let index: Int
        let messageId: String
        var done = false
    }

    enum ContentKind {
        case deliver(tag: UInt64, redelivered: Bool, exchange: String, routingKey: String, consumerTag: String)
        case returned(code: Int, text: String, exchange: String, routingKey: String)
        case get(tag: UInt64, redelivered: Bool, exchange: String, routingKey: String)
    }

    struct PartialContent {
        var kind: ContentKind
        var properties = MessageProperties(deliveryMode: nil)
        var expected: UInt64 = 0
        var headerSeen = false
        var body: [UInt8] = []
    }

    init(configuration: AMQPConnection.Configuration, logger: Logger) {
        self.configuration = configuration
        var l = logger
        l[metadataKey: "amqp.connection"] = "\(configuration.name)"
        self.logger = l
        var fds: [Int32] = [0, 0]
        let rc = pipe(&fds)
        precondition(rc == 0, "pipe() failed: \(errno)")
        _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
        _ = fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK)
        wakeRead = fds[0]
        wakeWrite = fds[1]
    }

    deinit {
        close(wakeRead)
        close(wakeWrite)
    }

    var isRunning: Bool { shared.withLock { $0.started && !$0.stopped } }

    func start() {
        let first = shared.withLock { s -> Bool in
            if s.started { return false }
            s.started = true
            return true
        }
        guard first else { return }
        let thread = Thread { [self] in self.ioMain() }
        thread.name = "amqp-\(configuration.name)"
        thread.start()
    }

    func shutdown() async {
        let (wasStarted, alreadyStopped) = shared.withLock { s in
            s.stopRequested = true
            return (s.started, s.stopped)
        }
        guard wasStarted, !alreadyStopped else {
            shared.withLock { $0.stopped = true }
            return
        }
        wake()
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let done = shared.withLock { s -> Bool in
                if s.stopped { return true }
                s.stopWaiters.append(c)
                return false
            }
            if done { c.resume() }
        }
    }

    func enqueue(_ command: Command) {
        let (rejected, needWake) = shared.withLock { s -> (Bool, Bool) in
            if s.stopRequested || s.stopped { return (true, false) }
            s.commands.append(command)
            if s.wakePending { return (false, false) }
            s.wakePending = true
            return (false, true)
        }
        if rejected {
            command.fail(AMQPError(.shutDown, "connection \(configuration.name) is shut down"))
        } else if needWake {
            wake()
        }
    }

    func submit<T: Sendable>(_ make: (@escaping Completion<T>) -> Command) async throws -> T {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
            enqueue(make { result in c.resume(with: result) })
        }
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    private func drainWake() {
        var buf = [UInt8](repeating: 0, count: 64)
        while read(wakeRead, &buf, 64) > 0 {}
    }

    // MARK: Thread main

    private func ioMain() {
        var backoff = configuration.reconnectBackoff.initial
        while true {
            if shared.withLock({ $0.stopRequested }) { break }
            if conn == nil {
                do {
                    try ioConnect()
                    backoff = configuration.reconnectBackoff.initial
                } catch {
                    logger.warning(
                        "AMQP connect failed; retrying",
                        metadata: ["error": "\(error)", "retry.in": "\(backoff)", "amqp.url": "\(configuration.url)"])
                    ioTeardown(error)
                    ioServeWhileDisconnected()
                    ioSleep(backoff)
                    backoff = min(backoff * 2, configuration.reconnectBackoff.max)
                    continue
                }
            }
            do {
                let commands = takeCommands()
                for command in commands { try ioExecute(command) }
                try ioPump(wait: commands.isEmpty)
            } catch {
                logger.warning("AMQP connection lost; reconnecting", metadata: ["error": "\(error)"])
                ioTeardown(error)
            }
        }
        ioShutdown()
    }

    private func takeCommands() -> [Command] {
        shared.withLock { s in
            s.wakePending = false
            let c = s.commands
            s.commands.removeAll(keepingCapacity: true)
            return c
        }
    }

    /// While disconnected: acks are dropped (redelivery follows), declares and consumers are
    /// remembered for the next connect, and everything else fails fast with `notConnected`.
    private func ioServeWhileDisconnected() {
        drainWake()
        for command in takeCommands() {
            switch command {
            case .ack, .nack, .reject: break
            case .declare(let t, let c):
                topology.merge(t)
                declareWaiters.append(c)
            case .consume(let r, let c):
                consumers[r.tag] = r
                c(.success(()))
            case .cancel(let tag, let c):
                consumers.removeValue(forKey: tag)?.continuation.finish()
                c(.success(()))
            default:
                command.fail(AMQPError(.notConnected, "not connected to \(configuration.url); reconnecting"))
            }
        }
    }

    private func ioSleep(_ d: Duration) {
        let ms = Int32(max(1, d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000))
        var fds = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
        _ = poll(&fds, 1, ms)
    }

    // MARK: Connect / teardown

    private func check(_ reply: amqp_rpc_reply_t, _ what: String) throws(AMQPError) {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            let text = String(cString: amqp_error_string2(reply.library_error))
            throw AMQPError(.connectionLost, "\(what): \(text)")
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            let code = ot_reply_close_code(reply)
            let text = ot_reply_close_text(reply).string
            throw AMQPError(.brokerRefused, "\(what): \(code) \(text)")
        default:
            throw AMQPError(.connectionLost, "\(what): no reply")
        }
    }

    private func checkStatus(_ status: Int32, _ what: String) throws(AMQPError) {
        if status != AMQP_STATUS_OK.rawValue {
            throw AMQPError(.connectionLost, "\(what): \(String(cString: amqp_error_string2(status)))")
        }
    }

    private func ioConnect() throws(AMQPError) {
        let url = configuration.url
        guard let c = amqp_new_connection() else { throw AMQPError(.connectionFailed, "amqp_new_connection failed") }
        conn = c
        let socket: OpaquePointer?
        if url.tls {
            socket = amqp_ssl_socket_new(c)
            if let socket {
                if let ca = url.caCertFile, amqp_ssl_socket_set_cacert(socket, ca) != AMQP_STATUS_OK.rawValue {
                    throw AMQPError(.connectionFailed, "cannot load CA certificate \(ca)")
                }
                if let cert = url.certFile, let key = url.keyFile,
                    amqp_ssl_socket_set_key(socket, cert, key) != AMQP_STATUS_OK.rawValue
                {
                    throw AMQPError(.connectionFailed, "cannot load client certificate \(cert)")
                }
                amqp_ssl_socket_set_verify_peer(socket, url.verifyPeer ? 1 : 0)
                amqp_ssl_socket_set_verify_hostname(socket, url.verifyPeer ? 1 : 0)
            }
        } else {
            socket = amqp_tcp_socket_new(c)
        }
        guard let socket else { throw AMQPError(.connectionFailed, "cannot create socket") }
        var tv = timeval(duration: configuration.operationTimeout)
        let opened = amqp_socket_open_noblock(socket, url.host, Int32(url.port), &tv)
        if opened != AMQP_STATUS_OK.rawValue {
            throw AMQPError(
                .connectionFailed, "cannot open \(url.host):\(url.port): \(String(cString: amqp_error_string2(opened)))")
        }
        _ = amqp_set_handshake_timeout(c, &tv)
        _ = amqp_set_rpc_timeout(c, &tv)
        try check(
            ot_amqp_login_plain(
                c, url.vhost, 0, Int32(AMQP_DEFAULT_FRAME_SIZE), Int32(configuration.heartbeatSeconds), url.user,
                url.password),
            "login to \(url)")
        amqp_channel_open(c, 1)
        try check(amqp_get_rpc_reply(c), "channel.open")
        amqp_confirm_select(c, 1)
        try check(amqp_get_rpc_reply(c), "confirm.select")
        nextPublishSeq = 1
        // New declares and consumers that arrived while disconnected join the remembered state.
        ioServeWhileDisconnected()
        try ioDeclare(topology)
        for w in declareWaiters { w(.success(())) }
        declareWaiters.removeAll()
        for r in consumers.values { try ioStartConsumer(r) }
        session &+= 1
        let s = session
        shared.withLock {
            $0.connected = true
            $0.session = s
        }
        logger.info("AMQP connected", metadata: ["amqp.url": "\(url)", "amqp.session": "\(s)"])
    }

    private func ioTeardown(_ error: any Error) {
        shared.withLock { $0.connected = false }
        let lost = AMQPError(.connectionLost, "connection lost before confirm: \(error)")
        for i in pendingHead..<pending.count where !pending[i].done { pending[i].batch.fail(lost) }
        pending.removeAll()
        pendingHead = 0
        returned.removeAll()
        content = nil
        if let g = pendingGet {
            g.0(.failure(lost))
            pendingGet = nil
        }
        if let c = conn {
            amqp_destroy_connection(c)
            conn = nil
        }
    }

    private func ioShutdown() {
        if let c = conn {
            // Give outstanding confirms a moment, cancel consumers, then close politely.
            let deadline = ContinuousClock.now + .seconds(2)
            while pendingHead < pending.count && ContinuousClock.now < deadline {
                do {
                    for command in takeCommands() { try ioExecute(command) }
                    try ioPump(wait: true)
                } catch { break }
            }
            for tag in consumers.keys { amqp_basic_cancel(c, 1, amqp_cstring_bytes(tag)) }
            // Serve acks that arrive during a short drain before closing (see rabbitmq-server#10327).
            let drainEnd = ContinuousClock.now + .milliseconds(200)
            while ContinuousClock.now < drainEnd {
                do {
                    for command in takeCommands() { try ioExecute(command) }
                    try ioPump(wait: true)
                } catch { break }
            }
            if conn != nil {
                _ = amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS)
                _ = amqp_connection_close(c, AMQP_REPLY_SUCCESS)
            }
        }
        ioTeardown(AMQPError(.shutDown, "connection shut down"))
        for r in consumers.values { r.continuation.finish() }
        consumers.removeAll()
        let (commands, waiters) = shared.withLock { s in
            s.stopped = true
            let c = s.commands
            s.commands.removeAll()
            let w = s.stopWaiters
            s.stopWaiters.removeAll()
            return (c, w)
        }
        let down = AMQPError(.shutDown, "connection \(configuration.name) is shut down")
        for c in commands { c.fail(down) }
        for w in declareWaiters { w(.failure(down)) }
        declareWaiters.removeAll()
        for w in waiters { w.resume() }
        logger.debug("AMQP connection stopped")
    }

    // MARK: Commands

    private func ioExecute(_ command: Command) throws {
        guard let c = conn else {
            command.fail(AMQPError(.notConnected, "not connected"))
            return
        }
        switch command {
        case .publish(let messages, let completion):
            try ioPublish(c, messages, completion)
        case .ack(let tag, let s, let multiple):
            guard s == session else { return }
            try checkStatus(amqp_basic_ack(c, 1, tag, multiple ? 1 : 0), "basic.ack")
        case .nack(let tag, let s, let multiple, let requeue):
            guard s == session else { return }
            try checkStatus(amqp_basic_nack(c, 1, tag, multiple ? 1 : 0, requeue ? 1 : 0), "basic.nack")
        case .reject(let tag, let s, let requeue):
            guard s == session else { return }
            try checkStatus(amqp_basic_reject(c, 1, tag, requeue ? 1 : 0), "basic.reject")
        case .declare(let t, let completion):
            do {
                try ioDeclare(t)
                topology.merge(t)
                completion(.success(()))
            } catch {
                completion(.failure(error))
                throw error
            }
        case .consume(let r, let completion):
            consumers[r.tag] = r
            try ioStartConsumer(r)
            completion(.success(()))
        case .cancel(let tag, let completion):
            if let r = consumers.removeValue(forKey: tag) {
                let arena = CArena()
                amqp_basic_cancel(c, 1, arena.bytes(tag))
                r.continuation.finish()
                do { try check(amqp_get_rpc_reply(c), "basic.cancel") } catch {
                    completion(.failure(error))
                    throw error
                }
            }
            completion(.success(()))
        case .get(let queue, let completion):
            let arena = CArena()
            let reply = amqp_basic_get(c, 1, arena.bytes(queue), 0)
            do { try check(reply, "basic.get \(queue)") } catch {
                completion(.failure(error))
                throw error
            }
            if Int(ot_reply_method_id(reply)) == OT_METHOD_BASIC_GET_OK,
                let ok = ot_reply_decoded(reply)?.assumingMemoryBound(to: amqp_basic_get_ok_t.self).pointee
            {
                content = PartialContent(
                    kind: .get(
                        tag: ok.delivery_tag, redelivered: ok.redelivered != 0, exchange: ok.exchange.string,
                        routingKey: ok.routing_key.string))
                pendingGet = (completion, ok.message_count)
            } else {
                completion(.success(nil))
            }
        case .status(let queue, let completion):
            let arena = CArena()
            let ok = amqp_queue_declare(c, 1, arena.bytes(queue), 1, 0, 0, 0, amqp_empty_table)
            do { try check(amqp_get_rpc_reply(c), "queue.declare passive \(queue)") } catch {
                completion(.failure(error))
                throw error
            }
            completion(.success(QueueStatus(messages: ok?.pointee.message_count ?? 0, consumers: ok?.pointee.consumer_count ?? 0)))
        case .purge(let queue, let completion):
            let arena = CArena()
            let ok = amqp_queue_purge(c, 1, arena.bytes(queue))
            do { try check(amqp_get_rpc_reply(c), "queue.purge \(queue)") } catch {
                completion(.failure(error))
                throw error
            }
            completion(.success(ok?.pointee.message_count ?? 0))
        case .deleteQueue(let queue, let completion):
            let arena = CArena()
            amqp_queue_delete(c, 1, arena.bytes(queue), 0, 0)
            do { try check(amqp_get_rpc_reply(c), "queue.delete \(queue)") } catch {
                completion(.failure(error))
                throw error
            }
            completion(.success(()))
        }
    }

    private func ioDeclare(_ t: Topology) throws(AMQPError) {
        guard let c = conn else { throw AMQPError(.notConnected, "not connected") }
        let arena = CArena()
        for e in t.exchanges {
            amqp_exchange_declare(
                c, 1, arena.bytes(e.name), arena.bytes(e.kind.rawValue), 0, e.durable ? 1 : 0, 0, 0,
                arena.table(e.arguments))
            try check(amqp_get_rpc_reply(c), "exchange.declare \(e.name)")
        }
        for q in t.queues {
            amqp_queue_declare(
                c, 1, arena.bytes(q.name), 0, q.durable ? 1 : 0, q.exclusive ? 1 : 0, q.autoDelete ? 1 : 0,
                arena.table(q.arguments))
            try check(amqp_get_rpc_reply(c), "queue.declare \(q.name)")
        }
        for b in t.bindings {
            amqp_queue_bind(c, 1, arena.bytes(b.queue), arena.bytes(b.exchange), arena.bytes(b.routingKey), amqp_empty_table)
            try check(amqp_get_rpc_reply(c), "queue.bind \(b.queue) \(b.exchange) \(b.routingKey)")
        }
    }

    private func ioStartConsumer(_ r: ConsumerRegistration) throws(AMQPError) {
        guard let c = conn else { throw AMQPError(.notConnected, "not connected") }
        let arena = CArena()
        amqp_basic_qos(c, 1, 0, r.prefetch, 0)
        try check(amqp_get_rpc_reply(c), "basic.qos")
        amqp_basic_consume(c, 1, arena.bytes(r.queue), arena.bytes(r.tag), 0, 0, 0, amqp_empty_table)
        try check(amqp_get_rpc_reply(c), "basic.consume \(r.queue)")
    }

    private func ioPublish(
        _ c: amqp_connection_state_t, _ messages: [OutgoingMessage], _ completion: @escaping Completion<[PublishOutcome]>
    ) throws {
        let batch = PublishBatch(count: messages.count, completion: completion)
        let arena = CArena()
        for (index, message) in messages.enumerated() {
            var props = message.properties
            let messageId = props.messageId ?? Self.randomMessageId()
            props.messageId = messageId
            var cprops = arena.properties(props)
            let exchange = arena.bytes(message.exchange)
            let routingKey = arena.bytes(message.routingKey)
            let status = message.body.withUnsafeBytes { raw -> Int32 in
                let body =
                    raw.count == 0
                    ? amqp_empty_bytes : amqp_bytes_t(len: raw.count, bytes: UnsafeMutableRawPointer(mutating: raw.baseAddress))
                return amqp_basic_publish(c, 1, exchange, routingKey, message.mandatory ? 1 : 0, 0, &cprops, body)
            }
            if status != AMQP_STATUS_OK.rawValue {
                let error = AMQPError(.connectionLost, "basic.publish: \(String(cString: amqp_error_string2(status)))")
                batch.fail(error)
                throw error
            }
            pending.append(PendingConfirm(seq: nextPublishSeq, batch: batch, index: index, messageId: messageId))
            nextPublishSeq += 1
        }
    }

    /// A message id for a message that has none (returns are matched to publishes by id).
    /// Cheaper than Foundation's `UUID()`, which reads /dev/urandom on every call on Linux.
    static func randomMessageId() -> String {
        var g = SystemRandomNumberGenerator()
        return "m-" + String(g.next() as UInt64, radix: 16) + String(g.next() as UInt64, radix: 16)
    }

    // MARK: Frames

    private func ioPump(wait: Bool) throws {
        guard let c = conn else { return }
        var mayWait = wait
        var handled = 0
        while handled < 4096 {
            var frame = amqp_frame_t()
            var tv = timeval(tv_sec: 0, tv_usec: 0)
            let status = amqp_simple_wait_frame_noblock(c, &frame, &tv)
            if status == AMQP_STATUS_TIMEOUT.rawValue {
                if mayWait && handled == 0 && !hasQueuedCommands() {
                    mayWait = false
                    pollSocket(c)
                    continue
                }
                return
            }
            try checkStatus(status, "reading from broker")
            try ioHandle(&frame)
            handled += 1
            if conn != nil, amqp_frames_enqueued(c) == 0 { amqp_maybe_release_buffers_on_channel(c, frame.channel) }
        }
    }

    private func hasQueuedCommands() -> Bool { shared.withLock { !$0.commands.isEmpty || $0.stopRequested } }

    private func pollSocket(_ c: amqp_connection_state_t) {
        var fds = [
            pollfd(fd: amqp_get_sockfd(c), events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
        ]
        _ = poll(&fds, 2, 50)
        if fds[1].revents != 0 { drainWake() }
    }

    private func ioHandle(_ frame: inout amqp_frame_t) throws {
        switch Int32(frame.frame_type) {
        case AMQP_FRAME_METHOD:
            let id = Int(ot_frame_method_id(&frame))
            let decoded = ot_frame_method_decoded(&frame)
            switch id {
            case OT_METHOD_BASIC_DELIVER:
                let d = decoded!.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee
                content = PartialContent(
                    kind: .deliver(
                        tag: d.delivery_tag, redelivered: d.redelivered != 0, exchange: d.exchange.string,
                        routingKey: d.routing_key.string, consumerTag: d.consumer_tag.string))
            case OT_METHOD_BASIC_RETURN:
                let r = decoded!.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
                content = PartialContent(
                    kind: .returned(
                        code: Int(r.reply_code), text: r.reply_text.string, exchange: r.exchange.string,
                        routingKey: r.routing_key.string))
            case OT_METHOD_BASIC_ACK:
                let a = decoded!.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
                confirm(upTo: a.delivery_tag, multiple: a.multiple != 0, ok: true)
            case OT_METHOD_BASIC_NACK:
                let n = decoded!.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
                confirm(upTo: n.delivery_tag, multiple: n.multiple != 0, ok: false)
            case OT_METHOD_CHANNEL_CLOSE:
                let cl = decoded!.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
                throw AMQPError(.brokerRefused, "channel closed by broker: \(cl.reply_code) \(cl.reply_text.string)")
            case OT_METHOD_CONNECTION_CLOSE:
                let cl = decoded!.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                throw AMQPError(.brokerRefused, "connection closed by broker: \(cl.reply_code) \(cl.reply_text.string)")
            case OT_METHOD_BASIC_CANCEL:
                throw AMQPError(.brokerRefused, "consumer cancelled by broker (queue deleted?)")
            case OT_METHOD_CONNECTION_BLOCKED:
                logger.warning("broker blocked this connection (resource alarm)")
            case OT_METHOD_CONNECTION_UNBLOCKED:
                logger.info("broker unblocked this connection")
            default:
                break
            }
        case AMQP_FRAME_HEADER:
            guard content != nil else { return }
            content!.properties = CCopy.properties(ot_frame_header_properties(&frame))
            content!.expected = ot_frame_header_body_size(&frame)
            content!.headerSeen = true
            content!.body.reserveCapacity(Int(content!.expected))
            if content!.expected == 0 { completeContent() }
        case AMQP_FRAME_BODY:
            guard content != nil else { return }
            let fragment = ot_frame_body_fragment(&frame)
            if fragment.len > 0, let bytes = fragment.bytes {
                content!.body.append(contentsOf: UnsafeRawBufferPointer(start: bytes, count: fragment.len))
            }
            if UInt64(content!.body.count) >= content!.expected { completeContent() }
        default:
            break
        }
    }

    private func completeContent() {
        guard let done = content else { return }
        content = nil
        switch done.kind {
        case .deliver(let tag, let redelivered, let exchange, let routingKey, let consumerTag):
            let delivery = Delivery(
                deliveryTag: tag, session: session, redelivered: redelivered, exchange: exchange, routingKey: routingKey,
                consumerTag: consumerTag, properties: done.properties, body: done.body)
            if let r = consumers[consumerTag] {
                r.continuation.yield(delivery)
            } else if let c = conn {
                // A delivery racing a cancel: give it back to the queue.
                amqp_basic_reject(c, 1, tag, 1)
            }
        case .returned(let code, let text, _, _):
            if let id = done.properties.messageId { returned[id] = (code, text) }
        case .get(let tag, let redelivered, let exchange, let routingKey):
            if let g = pendingGet {
                pendingGet = nil
                let delivery = Delivery(
                    deliveryTag: tag, session: session, redelivered: redelivered, exchange: exchange,
                    routingKey: routingKey, consumerTag: "", properties: done.properties, body: done.body)
                g.0(.success(FetchedMessage(delivery: delivery, messageCount: g.count)))
            }
        }
    }

    private func confirm(upTo tag: UInt64, multiple: Bool, ok: Bool) {
        func outcome(_ p: PendingConfirm) -> PublishOutcome {
            guard ok else { return .nacked }
            if let r = returned.removeValue(forKey: p.messageId) { return .returned(replyCode: r.0, replyText: r.1) }
            return .confirmed
        }
        if multiple {
            while pendingHead < pending.count && pending[pendingHead].seq <= tag {
                if !pending[pendingHead].done {
                    pending[pendingHead].batch.resolve(pending[pendingHead].index, outcome(pending[pendingHead]))
                }
                pendingHead += 1
            }
        } else {
            // Binary search: sequence numbers are increasing.
            var lo = pendingHead
            var hi = pending.count - 1
            while lo <= hi {
                let mid = (lo + hi) / 2
                if pending[mid].seq == tag {
                    if !pending[mid].done {
                        pending[mid].done = true
                        pending[mid].batch.resolve(pending[mid].index, outcome(pending[mid]))
                    }
                    break
                } else if pending[mid].seq < tag {
                    lo = mid + 1
                } else {
                    hi = mid - 1
                }
            }
            while pendingHead < pending.count && pending[pendingHead].done { pendingHead += 1 }
        }
        if pendingHead > 4096 && pendingHead * 2 > pending.count {
            pending.removeFirst(pendingHead)
            pendingHead = 0
        }
        if pendingHead == pending.count {
            pending.removeAll(keepingCapacity: true)
            pendingHead = 0
        }
    }
}

extension timeval {
    init(duration: Duration) {
        let (s, atto) = duration.components
        self.init(tv_sec: Int(s), tv_usec: Int(atto / 1_000_000_000_000))
    }
}
