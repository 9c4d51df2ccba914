import CRabbitMQ
import Foundation
import Logging
import Synchronization

/// One AMQP connection, driven by a dedicated thread, with three channels: one in publisher-confirm
/// mode for publishes, one for consumers, `basic.get` and acks, and one for declarations and queue
/// operations. A broker refusal closes only the channel it concerns, which reopens by itself.
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
///
/// A publish the broker refuses (403 ACCESS_REFUSED from a topic permission, 406
/// PRECONDITION_FAILED from a foreign `user_id`, 404 for a missing exchange) fails with
/// ``AMQPError/Code/accessRefused``, ``AMQPError/Code/preconditionFailed`` or
/// ``AMQPError/Code/brokerRefused``; the other publishes then waiting for a confirm fail with the
/// retryable ``AMQPError/Code/channelClosed``; the publish channel reopens, and consumers are not
/// touched.
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
        /// Stamp every publish with `user_id` = the login user (``AMQPURL/user``), which the broker
        /// verifies, so that consumers can trust `properties.userId` as the publisher's identity.
        /// A message that sets `userId` itself keeps it when it equals the login user; any other
        /// value fails that publish locally with ``AMQPError/Code/preconditionFailed`` (the broker
        /// would refuse it and close the channel). Off by default.
        public var stampUserId: Bool

        public init(
            url: AMQPURL, name: String = "amqp", heartbeatSeconds: Int = 30, operationTimeout: Duration = .seconds(10),
            reconnectBackoff: (initial: Duration, max: Duration) = (.milliseconds(100), .seconds(5)),
            stampUserId: Bool = false
        ) {
            self.url = url
            self.name = name
            self.heartbeatSeconds = heartbeatSeconds
            self.operationTimeout = operationTimeout
            self.reconnectBackoff = reconnectBackoff
            self.stampUserId = stampUserId
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

    /// Closes consumers, the channels and the connection, and stops the I/O thread. Publishes still
    /// waiting for confirms get up to two seconds. Idempotent.
    public func shutdown() async { await loop.shutdown() }

    /// Whether the connection is open right now.
    public var isConnected: Bool { loop.shared.withLock { $0.connected } }

    /// Counts consumer-channel sessions: changes after every reconnect and every reopening of the
    /// consumer channel (acks for deliveries of an earlier session are dropped).
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

    /// Declares exchanges, queues and bindings now, once: not again after a reconnect (temporary
    /// objects, e.g. a queue that holds messages while another is replaced). Fails with
    /// ``AMQPError/Code/notConnected`` while the connection is down.
    public func declareOnce(_ topology: Topology) async throws {
        try await loop.submit { .declareOnce(topology, $0) }
    }

    /// Removes a binding (`queue.unbind`); removing one that does not exist succeeds.
    public func unbind(_ binding: Topology.Binding) async throws {
        try await loop.submit { .unbind(binding, $0) }
    }

    /// Publishes messages with publisher confirms; returns one outcome per message, in order.
    ///
    /// Throws when a message gets no outcome: the connection is not open or is lost before every
    /// confirm arrived (``AMQPError/Code/notConnected``, ``AMQPError/Code/connectionLost``), or
    /// the broker refused one of the messages — then the error is that refusal
    /// (``AMQPError/Code/accessRefused``, ``AMQPError/Code/preconditionFailed``,
    /// ``AMQPError/Code/brokerRefused``) and its ``AMQPError/messageIndex`` names the message;
    /// the others of the call are not confirmed. ``publishResults(_:)`` tells message by message.
    public func publish(_ messages: [OutgoingMessage]) async throws -> [PublishOutcome] {
        let results = await publishResults(messages)
        var outcomes: [PublishOutcome] = []
        outcomes.reserveCapacity(results.count)
        var firstError: AMQPError?
        for result in results {
            switch result {
            case .success(let outcome): outcomes.append(outcome)
            case .failure(let error):
                if !error.isRetryable { throw error }
                if firstError == nil { firstError = error }
            }
        }
        if let firstError { throw firstError }
        return outcomes
    }

    /// Publishes one message with a publisher confirm.
    public func publish(_ message: OutgoingMessage) async throws -> PublishOutcome {
        try await publish([message])[0]
    }

    /// Publishes messages with publisher confirms; returns one result per message, in order: the
    /// broker's outcome, or why there is none — a refusal of that message
    /// (``AMQPError/Code/accessRefused``, ``AMQPError/Code/preconditionFailed``,
    /// ``AMQPError/Code/brokerRefused``: do not publish it again as is) or a retryable failure
    /// (``AMQPError/isRetryable``: ``AMQPError/Code/channelClosed`` when the broker closed the
    /// channel because of another publish, ``AMQPError/Code/connectionLost``,
    /// ``AMQPError/Code/notConnected``).
    public func publishResults(_ messages: [OutgoingMessage]) async -> [Result<PublishOutcome, AMQPError>] {
        if messages.isEmpty { return [] }
        do {
            return try await loop.submit { .publish(messages, $0) }
        } catch let error as AMQPError {
            return messages.indices.map { i in
                var e = error
                e.messageIndex = i
                return .failure(e)
            }
        } catch {
            return messages.indices.map { _ in .failure(AMQPError(.connectionLost, "\(error)")) }
        }
    }

    /// Starts consuming a queue with manual acknowledgement and the given prefetch. The consumer
    /// survives reconnects: its deliveries go on after the connection recovers.
    ///
    /// `arguments` is the `basic.consume` argument table, e.g. `x-stream-offset` (`"first"`,
    /// `"last"`, `"next"` or an offset) to read a stream queue from a given point, or
    /// `x-priority`. A consumer that resubscribes after a reconnect does so with the same
    /// arguments (a stream consumer from `"first"` reads the stream again from its start).
    ///
    /// Stream queues need a prefetch (the broker refuses a stream consumer without one) and manual
    /// acks, which only give credit back; RabbitMQ 3.10 answers a `basic.nack` or `basic.reject`
    /// of a stream delivery by closing the whole connection (540 NOT_IMPLEMENTED), so acknowledge
    /// every stream delivery, and end a stream consumer with ``cancel(_:)`` and by acking what it
    /// still delivers, not by ending the iteration (which gives the rest back with a nack).
    public func consume(queue: String, prefetch: UInt16, arguments: [String: FieldValue] = [:]) async throws -> AMQPConsumer {
        let tag = "\(loop.configuration.name).\(queue).\(UUID().uuidString.prefix(8).lowercased())"
        let loop = self.loop
        let box = DeliveryBox(onIteratorEnd: { loop.enqueue(.consumerEnded(tag)) })
        let registration = ConsumerRegistration(tag: tag, queue: queue, prefetch: prefetch, arguments: arguments, box: box)
        try await loop.submit { .consume(registration, $0) }
        return AMQPConsumer(tag: tag, queue: queue, deliveries: AMQPDeliveries(box: box))
    }

    /// Stops a consumer (`basic.cancel`); its deliveries end. Messages already delivered to it stay
    /// unacknowledged until acked or nacked.
    public func cancel(_ consumer: AMQPConsumer) async throws {
        try await loop.submit { .cancel(consumer.tag, $0) }
    }

    /// Acknowledges a delivery (dropped if it came from an earlier session). Acks are sent when the
    /// I/O thread next wakes, merged into `multiple` acks where that is exact.
    public func ack(_ delivery: Delivery, multiple: Bool = false) {
        loop.enqueue(.settle(Settlement(delivery, multiple: multiple, .ack)))
    }

    /// Acknowledges several deliveries with one hand-over to the I/O thread.
    public func ack(_ deliveries: some Sequence<Delivery>) {
        let settlements = deliveries.map { Settlement($0, multiple: false, .ack) }
        if !settlements.isEmpty { loop.enqueue(.settleAll(settlements)) }
    }

    /// Negatively acknowledges a delivery; with `requeue: false` the queue dead-letters or drops it.
    public func nack(_ delivery: Delivery, requeue: Bool, multiple: Bool = false) {
        loop.enqueue(.settle(Settlement(delivery, multiple: multiple, .nack(requeue: requeue))))
    }

    /// Rejects a delivery (`basic.reject`): with `requeue: false` the queue dead-letters or drops it.
    public func reject(_ delivery: Delivery, requeue: Bool) {
        loop.enqueue(.settle(Settlement(delivery, multiple: false, .reject(requeue: requeue))))
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

    /// Deletes a queue. With `ifUnused` the broker refuses (406) while the queue has consumers,
    /// with `ifEmpty` while it holds messages (the refusal closes only the admin channel).
    public func deleteQueue(_ queue: String, ifUnused: Bool = false, ifEmpty: Bool = false) async throws {
        try await loop.submit { .deleteQueue(queue, ifUnused: ifUnused, ifEmpty: ifEmpty, $0) }
    }
}

/// A running consumer: its tag and its deliveries.
public struct AMQPConsumer: Sendable {
    public let tag: String
    public let queue: String
    /// The consumer's deliveries, in order; iterate once.
    public let deliveries: AMQPDeliveries
}

/// Counts reported by a passive queue declare.
public struct QueueStatus: Sendable, Equatable {
    public var messages: UInt32
    public var consumers: UInt32
}

// MARK: - Commands

typealias Completion<T> = @Sendable (Result<T, AMQPError>) -> Void

struct ConsumerRegistration: Sendable {
    let tag: String
    let queue: String
    let prefetch: UInt16
    /// The `basic.consume` arguments (sent again on every resubscription).
    let arguments: [String: FieldValue]
    let box: DeliveryBox
}

/// An ack, nack or reject asked for by the application.
struct Settlement: Sendable {
    let deliveryTag: UInt64
    let session: UInt64
    let multiple: Bool
    let decision: AckLedger.Decision

    init(_ delivery: Delivery, multiple: Bool, _ decision: AckLedger.Decision) {
        deliveryTag = delivery.deliveryTag
        session = delivery.session
        self.multiple = multiple
        self.decision = decision
    }
}

enum Command: Sendable {
    case publish([OutgoingMessage], Completion<[ConfirmTracker.MessageResult]>)
    case settle(Settlement)
    case settleAll([Settlement])
    case declare(Topology, Completion<Void>)
    case declareOnce(Topology, Completion<Void>)
    case unbind(Topology.Binding, Completion<Void>)
    case consume(ConsumerRegistration, Completion<Void>)
    case cancel(String, Completion<Void>)
    /// The iterating side of a consumer's deliveries ended them.
    case consumerEnded(String)
    case get(String, Completion<FetchedMessage?>)
    case status(String, Completion<QueueStatus>)
    case purge(String, Completion<UInt32>)
    case deleteQueue(String, ifUnused: Bool, ifEmpty: Bool, Completion<Void>)

    /// Fails the command's caller (settlements have none).
    func fail(_ error: AMQPError) {
        switch self {
        case .publish(_, let c): c(.failure(error))
        case .declare(_, let c), .declareOnce(_, let c), .unbind(_, let c), .consume(_, let c), .cancel(_, let c),
            .deleteQueue(_, _, _, let c):
            c(.failure(error))
        case .get(_, let c): c(.failure(error))
        case .status(_, let c): c(.failure(error))
        case .purge(_, let c): c(.failure(error))
        case .settle, .settleAll, .consumerEnded: break
        }
    }
}

// MARK: - The I/O loop

/// The thread-confined engine behind ``AMQPConnection``.
///
/// `@unchecked Sendable` is sound because the fields fall in two groups: `shared` is protected by
/// its mutex and is the only state touched from other threads (with the immutable `configuration`,
/// `logger` and pipe descriptors); everything else — the rabbitmq-c connection pointer, the confirm
/// tracker, the frame assemblers, the ack ledger, the consumer slots — is read and written only on
/// the dedicated I/O thread started in `start()`, which is the sole caller of every `io*` method.
/// Deliveries cross to other threads only through each consumer's `DeliveryBox` (a mutex), after
/// their bytes were copied out of rabbitmq-c's buffers.
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

    /// Channel numbers, one per role.
    enum Channel {
        /// Publishes (confirm mode), their confirms and returns.
        static let publish: amqp_channel_t = 1
        /// Consumers, `basic.get`, acks.
        static let consume: amqp_channel_t = 2
        /// Declarations and queue operations (passive declare, purge, delete).
        static let admin: amqp_channel_t = 3
        static let all = [publish, consume, admin]
    }

    /// A consumer as the I/O thread holds it: its registration and the deliveries read since the
    /// last hand-over.
    final class ConsumerSlot {
        let registration: ConsumerRegistration
        var pending: [Delivery] = []
        init(_ registration: ConsumerRegistration) { self.registration = registration }
    }

    /// A channel closed by the broker, waiting to be reopened.
    struct BrokerClose: Error {
        let channel: amqp_channel_t
        let close: ConfirmTracker.ChannelClose
    }

    /// Consecutive failed connection attempts after which a warning is logged (then every
    /// `warnEvery` further failures); attempts before that log at info.
    static let warnAfterFailures = 10
    static let warnEvery = 60

    let configuration: AMQPConnection.Configuration
    let logger: Logger
    let shared = Mutex(Shared())
    private let wakeRead: Int32
    private let wakeWrite: Int32

    // MARK: I/O-thread-confined state
    // Only the I/O thread touches these, one access at a time: the run-time exclusivity checks
    // (a thread-local access set per access) are turned off for the ones on the per-frame path.
    @exclusivity(unchecked) private var conn: amqp_connection_state_t?
    @exclusivity(unchecked) private var session: UInt64 = 0
    private var topology = Topology()
    private var declareWaiters: [Completion<Void>] = []
    @exclusivity(unchecked) private var consumers: [String: ConsumerSlot] = [:]
    /// The consumer of the previous delivery (most deliveries go to the same one).
    @exclusivity(unchecked) private var lastSlot: ConsumerSlot?
    @exclusivity(unchecked) private var slotsWithPending: [ConsumerSlot] = []
    @exclusivity(unchecked) private var confirms = ConfirmTracker()
    private var batchCompletions: [ConfirmTracker.BatchID: Completion<[ConfirmTracker.MessageResult]>] = [:]
    @exclusivity(unchecked) private var publishContent = FrameAssembler()
    @exclusivity(unchecked) private var consumeContent = FrameAssembler()
    @exclusivity(unchecked) private var ledger = AckLedger()
    @exclusivity(unchecked) private var pendingGet: Completion<FetchedMessage?>?
    @exclusivity(unchecked) private var strings = StringInterner()
    /// Channels the broker closed, to reopen before the next command.
    @exclusivity(unchecked) private var closedChannels: [BrokerClose] = []
    @exclusivity(unchecked) private var socketReadable = false
    private let messageIdPrefix = "m-" + String(UInt64.random(in: .min ... .max), radix: 16) + "-"
    @exclusivity(unchecked) private var messageCounter: UInt64 = 0
    /// Publishes encoded for one write to the socket (plain TCP; see ``ioPublish(_:_:_:)``).
    @exclusivity(unchecked) private var outgoing = OutgoingFrames()

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
        var buf = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        while withUnsafeMutableBytes(of: &buf, { read(wakeRead, $0.baseAddress, $0.count) }) > 0 {}
    }

    // MARK: Thread main

    private func ioMain() {
        Self.nameCurrentThread("amqp-\(configuration.name)")
        var backoff = configuration.reconnectBackoff.initial
        var failures = 0
        while true {
            if shared.withLock({ $0.stopRequested }) { break }
            if conn == nil {
                do {
                    try ioConnect()
                    backoff = configuration.reconnectBackoff.initial
                    failures = 0
                } catch {
                    failures += 1
                    ioTeardown(error)
                    logConnectFailure(error, failures: failures, retryIn: backoff)
                    ioServeWhileDisconnected()
                    ioSleep(backoff)
                    backoff = min(backoff * 2, configuration.reconnectBackoff.max)
                    continue
                }
            }
            do {
                try ioRound()
            } catch {
                logger.info("AMQP connection lost; reconnecting", metadata: ["error": "\(error)"])
                ioTeardown(error)
            }
        }
        ioShutdown()
    }

    /// Names the calling thread as `top -H`, `perf` and `/proc/<pid>/task` show it (Foundation's
    /// `Thread.name` does not reach the kernel on Linux): at most 15 bytes, cut at a character.
    static func nameCurrentThread(_ name: String) {
        var cut = ""
        for ch in name {
            if cut.utf8.count + ch.utf8.count > 15 { break }
            cut.append(ch)
        }
        ot_name_current_thread(cut)
    }

    /// Reconnecting is routine (broker restarts, deploys): attempts log at info. A broker still
    /// unreachable after `warnAfterFailures` attempts (about 25 s with the default backoff) is
    /// worth a warning, repeated every `warnEvery` further attempts (about 5 minutes).
    private func logConnectFailure(_ error: any Error, failures: Int, retryIn: Duration) {
        let metadata: Logger.Metadata = [
            "error": "\(error)", "retry.in": "\(retryIn)", "amqp.url": "\(configuration.url)",
            "amqp.attempts": "\(failures)",
        ]
        let n = failures - Self.warnAfterFailures
        if n >= 0 && n % Self.warnEvery == 0 {
            logger.warning("AMQP broker still unreachable; retrying", metadata: metadata)
        } else {
            logger.info("AMQP connect failed; retrying", metadata: metadata)
        }
    }

    /// One round of the connected loop: commands, settlements, frames, hand-overs, then a bounded
    /// wait on the socket and the wake pipe.
    private func ioRound() throws {
        guard let c = conn else { return }
        let commands = takeCommands()
        for (i, command) in commands.enumerated() {
            do {
                try ioExecute(command)
                try ioReopenClosedChannels()
            } catch {
                // The connection is gone: the commands not run yet are served as if they had
                // arrived while disconnected (declares and consumers wait for the reconnect).
                let rest = commands[(i + 1)...]
                if !rest.isEmpty { shared.withLock { $0.commands.insert(contentsOf: rest, at: 0) } }
                throw error
            }
        }
        // Synchronous methods (get, consume, cancel) may have read deliveries on the way.
        ioHandOver()
        try ioFlushSettlements()
        let buffered = amqp_data_in_buffer(c) != 0 || amqp_frames_enqueued(c) != 0
        if socketReadable || buffered {
            socketReadable = false
            let handled = try ioDrainFrames()
            ioHandOver()
            try ioReopenClosedChannels()
            try ioFlushSettlements()
            guard let c = conn else { return }
            if amqp_data_in_buffer(c) != 0 || amqp_frames_enqueued(c) != 0 { return }
            // OpenSSL may hold decrypted bytes the socket no longer shows: read until it says no.
            if configuration.url.tls && handled > 0 {
                socketReadable = true
                return
            }
        }
        // With commands waiting, only look (a stream of acks or publishes must not starve reading).
        let wait: Int32 = hasQueuedCommands() ? 0 : 50
        let (readable, timedOut) = pollSocket(c, timeoutMilliseconds: wait)
        // After a quiet wait, one read serves heartbeats (rabbitmq-c sends and checks them there).
        socketReadable = readable || (timedOut && wait > 0)
    }

    private func takeCommands() -> [Command] {
        shared.withLock { s in
            s.wakePending = false
            if s.commands.isEmpty { return [] }
            let c = s.commands
            s.commands.removeAll(keepingCapacity: true)
            return c
        }
    }

    /// While disconnected: settlements are dropped (redelivery follows), declares and consumers are
    /// remembered for the next connect, and everything else fails fast with `notConnected`.
    private func ioServeWhileDisconnected() {
        drainWake()
        for command in takeCommands() {
            switch command {
            case .settle, .settleAll: break
            case .declare(let t, let c):
                topology.merge(t)
                declareWaiters.append(c)
            case .consume(let r, let c):
                consumers[r.tag] = ConsumerSlot(r)
                c(.success(()))
            case .cancel(let tag, let c):
                consumers.removeValue(forKey: tag)?.registration.box.finish()
                c(.success(()))
            case .consumerEnded(let tag):
                consumers.removeValue(forKey: tag)?.registration.box.finish()
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

    /// Checks a synchronous method's reply. A `channel.close` from the broker is answered with
    /// `close-ok` and recorded for reopening (the error says what the broker refused); anything
    /// else that is not a normal reply is the connection's end.
    private func check(_ reply: amqp_rpc_reply_t, _ what: String, channel: amqp_channel_t) throws(AMQPError) {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            let text = String(cString: amqp_error_string2(reply.library_error))
            throw AMQPError(.connectionLost, "\(what): \(text)")
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            let id = Int(reply.reply.id)
            if id == OT_METHOD_CHANNEL_CLOSE, let decoded = reply.reply.decoded {
                let cl = decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
                let close = ConfirmTracker.ChannelClose(
                    replyCode: cl.reply_code, replyText: cl.reply_text.string, classId: cl.class_id, methodId: cl.method_id)
                try ioChannelClosedByBroker(channel, close)
                throw AMQPError(
                    .brokerRefused, "\(what): \(close.replyCode) \(close.replyText)", replyCode: close.replyCode,
                    replyText: close.replyText)
            }
            if id == OT_METHOD_CONNECTION_CLOSE, let decoded = reply.reply.decoded {
                let cl = decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                ioConnectionCloseOk()
                throw AMQPError(
                    .connectionLost, "\(what): connection closed by broker: \(cl.reply_code) \(cl.reply_text.string)",
                    replyCode: cl.reply_code, replyText: cl.reply_text.string)
            }
            throw AMQPError(.connectionLost, "\(what): unexpected server method \(id)")
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
        do {
            try check(
                ot_amqp_login_plain(
                    c, url.vhost, 0, Int32(AMQP_DEFAULT_FRAME_SIZE), Int32(configuration.heartbeatSeconds), url.user,
                    url.password),
                "login to \(url)", channel: 0)
            for channel in Channel.all { try ioOpenChannel(channel) }
        } catch {
            throw AMQPError(.connectionFailed, error.message, replyCode: error.replyCode, replyText: error.replyText)
        }
        // New declares and consumers that arrived while disconnected join the remembered state.
        ioServeWhileDisconnected()
        try ioDeclare(topology)
        for w in declareWaiters { w(.success(())) }
        declareWaiters.removeAll()
        newSession()
        try ioStartConsumers()
        try ioReopenClosedChannels()
        shared.withLock { $0.connected = true }
        socketReadable = true
        logger.info("AMQP connected", metadata: ["amqp.url": "\(url)", "amqp.session": "\(session)"])
    }

    /// Opens a channel and sets it up for its role (confirm mode for publishes).
    private func ioOpenChannel(_ channel: amqp_channel_t) throws(AMQPError) {
        guard let c = conn else { throw AMQPError(.notConnected, "not connected") }
        amqp_channel_open(c, channel)
        try check(amqp_get_rpc_reply(c), "channel.open \(channel)", channel: channel)
        if channel == Channel.publish {
            amqp_confirm_select(c, channel)
            try check(amqp_get_rpc_reply(c), "confirm.select", channel: channel)
        }
    }

    /// A new consumer-channel session: acks for deliveries of the previous one are dropped.
    private func newSession() {
        session &+= 1
        let s = session
        shared.withLock { $0.session = s }
        ledger.reset()
        consumeContent.reset()
        lastSlot = nil
        for slot in slotsWithPending { slot.pending.removeAll() }
        slotsWithPending.removeAll()
    }

    private func ioTeardown(_ error: any Error) {
        shared.withLock { $0.connected = false }
        let lost = AMQPError(.connectionLost, "connection lost before confirm: \(error)")
        complete(confirms.failAll(lost))
        publishContent.reset()
        consumeContent.reset()
        ledger.reset()
        closedChannels.removeAll()
        lastSlot = nil
        for slot in slotsWithPending { slot.pending.removeAll() }
        slotsWithPending.removeAll()
        if let g = pendingGet {
            pendingGet = nil
            g(.failure(lost))
        }
        socketReadable = false
        if let c = conn {
            amqp_destroy_connection(c)
            conn = nil
        }
    }

    private func ioShutdown() {
        if let c = conn {
            // Give outstanding confirms a moment, cancel consumers, then close politely.
            let deadline = ContinuousClock.now + .seconds(2)
            while !confirms.isIdle && ContinuousClock.now < deadline && conn != nil {
                do { try ioRound() } catch { break }
            }
            if conn != nil {
                for tag in consumers.keys {
                    _ = tag.withCString { amqp_basic_cancel(c, Channel.consume, amqp_cstring_bytes($0)) }
                }
            }
            // Serve acks that arrive during a short drain before closing (see rabbitmq-server#10327).
            let drainEnd = ContinuousClock.now + .milliseconds(200)
            while ContinuousClock.now < drainEnd && conn != nil {
                do { try ioRound() } catch { break }
            }
            if conn != nil {
                for channel in Channel.all.reversed() { _ = amqp_channel_close(c, channel, AMQP_REPLY_SUCCESS) }
                _ = amqp_connection_close(c, AMQP_REPLY_SUCCESS)
            }
        }
        ioTeardown(AMQPError(.shutDown, "connection shut down"))
        for slot in consumers.values { slot.registration.box.finish() }
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

    // MARK: Channels closed by the broker

    /// Answers the broker's `channel.close` and settles what the channel held; the channel is
    /// reopened by `ioReopenClosedChannels` before the next command.
    private func ioChannelClosedByBroker(_ channel: amqp_channel_t, _ close: ConfirmTracker.ChannelClose) throws(AMQPError)
    {
        guard let c = conn else { return }
        var ok = amqp_channel_close_ok_t()
        try checkStatus(
            amqp_send_method(c, channel, amqp_method_number_t(OT_METHOD_CHANNEL_CLOSE_OK), &ok), "channel.close-ok")
        logger.info(
            "AMQP channel closed by the broker; reopening it",
            metadata: [
                "amqp.channel": "\(channel)", "amqp.reply.code": "\(close.replyCode)",
                "amqp.reply.text": "\(close.replyText)",
            ])
        switch channel {
        case Channel.publish:
            publishContent.reset()
            complete(confirms.channelClosed(close))
        case Channel.consume:
            // The broker requeues every unacked delivery of the channel and forgets its consumers.
            newSession()
            if let g = pendingGet {
                pendingGet = nil
                g(.failure(AMQPError(.channelClosed, "channel closed: \(close.replyCode) \(close.replyText)",
                    replyCode: close.replyCode, replyText: close.replyText)))
            }
        default:
            break
        }
        closedChannels.append(BrokerClose(channel: channel, close: close))
    }

    /// Reopens the channels the broker closed; on the consumer channel, resubscribes the consumers
    /// (a consumer the broker refuses again, e.g. its queue is gone, ends).
    private func ioReopenClosedChannels() throws(AMQPError) {
        var rounds = 0
        while !closedChannels.isEmpty {
            rounds += 1
            if rounds > 8 { throw AMQPError(.connectionLost, "channels keep closing: \(closedChannels.map(\.close))") }
            let closed = closedChannels
            closedChannels.removeAll()
            for channel in Set(closed.map(\.channel)).sorted() {
                do {
                    try ioOpenChannel(channel)
                } catch where !closedChannels.isEmpty {
                    continue
                }
                if channel == Channel.consume { try ioStartConsumers() }
            }
        }
    }

    /// Subscribes every consumer on the (new) consumer channel. A consumer the broker refuses (404:
    /// its queue is gone, 403 …) ends; that closed the channel, so the others are subscribed again
    /// when `ioReopenClosedChannels` reopens it.
    private func ioStartConsumers() throws(AMQPError) {
        for slot in Array(consumers.values) {
            do {
                try ioStartConsumer(slot.registration)
            } catch where error.isChannelRefusal {
                logger.info(
                    "AMQP consumer refused by the broker; ending it",
                    metadata: ["amqp.consumer": "\(slot.registration.tag)", "error": "\(error)"])
                consumers.removeValue(forKey: slot.registration.tag)
                slot.registration.box.finish()
                return
            }
        }
    }

    private func ioConnectionCloseOk() {
        guard let c = conn else { return }
        var ok = amqp_connection_close_ok_t()
        _ = amqp_send_method(c, 0, amqp_method_number_t(OT_METHOD_CONNECTION_CLOSE_OK), &ok)
    }

    // MARK: Commands

    private func ioExecute(_ command: Command) throws(AMQPError) {
        guard let c = conn else {
            command.fail(AMQPError(.notConnected, "not connected"))
            return
        }
        switch command {
        case .settle(let s):
            settle(s)
            return
        case .settleAll(let all):
            for s in all { settle(s) }
            return
        default:
            break
        }
        // Keep settlements ahead of the synchronous methods that follow them.
        try ioFlushSettlements()
        switch command {
        case .settle, .settleAll:
            break
        case .publish(let messages, let completion):
            try ioPublish(c, messages, completion)
        case .declare(let t, let completion):
            try run(completion) { () throws(AMQPError) in
                try ioDeclare(t)
                topology.merge(t)
            }
        case .declareOnce(let t, let completion):
            try run(completion) { () throws(AMQPError) in try ioDeclare(t) }
        case .unbind(let b, let completion):
            try run(completion) { () throws(AMQPError) in
                let arena = CArena()
                amqp_queue_unbind(
                    c, Channel.admin, arena.bytes(b.queue), arena.bytes(b.exchange), arena.bytes(b.routingKey), amqp_empty_table)
                try check(amqp_get_rpc_reply(c), "queue.unbind \(b.queue) \(b.exchange) \(b.routingKey)", channel: Channel.admin)
            }
        case .consume(let r, let completion):
            let slot = ConsumerSlot(r)
            consumers[r.tag] = slot
            do {
                try ioStartConsumer(r)
                completion(.success(()))
            } catch {
                consumers.removeValue(forKey: r.tag)
                r.box.finish()
                completion(.failure(error))
                if !error.isChannelRefusal { throw error }
            }
        case .cancel(let tag, let completion):
            guard let slot = consumers[tag] else {
                completion(.success(()))
                return
            }
            // Deliveries read before the cancel-ok still reach the consumer, those rabbitmq-c
            // queued while it waited for the cancel-ok included (given back with a reject they
            // would close the connection for a stream: RabbitMQ 3.10 answers 540); then it ends —
            // also when the connection fails on the way.
            defer {
                consumers.removeValue(forKey: tag)
                if lastSlot === slot { lastSlot = nil }
                ioHandOver()
                slot.registration.box.finish()
            }
            try run(completion) { () throws(AMQPError) in
                _ = tag.withCString { amqp_basic_cancel(c, Channel.consume, amqp_cstring_bytes($0)) }
                try check(amqp_get_rpc_reply(c), "basic.cancel", channel: Channel.consume)
                try ioHandleQueuedFrames()
            }
        case .consumerEnded(let tag):
            guard let slot = consumers.removeValue(forKey: tag) else { return }
            if lastSlot === slot { lastSlot = nil }
            _ = tag.withCString { amqp_basic_cancel(c, Channel.consume, amqp_cstring_bytes($0)) }
            do {
                try check(amqp_get_rpc_reply(c), "basic.cancel", channel: Channel.consume)
            } catch where error.isChannelRefusal {}
            // Give back what the consumer never took.
            for d in slot.pending + slot.registration.box.takeLeftovers() where d.session == session {
                ledger.settle(d.deliveryTag, multiple: false, .nack(requeue: true))
            }
            slot.pending.removeAll()
            slotsWithPending.removeAll { $0 === slot }
        case .get(let queue, let completion):
            let reply = queue.withCString { amqp_basic_get(c, Channel.consume, amqp_cstring_bytes($0), 0) }
            do {
                try check(reply, "basic.get \(queue)", channel: Channel.consume)
            } catch {
                completion(.failure(error))
                if !error.isChannelRefusal { throw error }
                return
            }
            if Int(reply.reply.id) == OT_METHOD_BASIC_GET_OK,
                let ok = reply.reply.decoded?.assumingMemoryBound(to: amqp_basic_get_ok_t.self).pointee
            {
                do {
                    try assembled { () throws(FrameAssembler.AssemblyError) in
                        try consumeContent.method(
                            .getOk(
                                deliveryTag: ok.delivery_tag, redelivered: ok.redelivered != 0,
                                exchange: strings.string(ok.exchange), routingKey: strings.string(ok.routing_key),
                                messageCount: ok.message_count))
                    }
                } catch {
                    completion(.failure(error))
                    throw error
                }
                pendingGet = completion
                // The content frames follow at once: read them now so `get` answers promptly.
                while pendingGet != nil && conn != nil {
                    if try ioReadOneFrame(wait: configuration.operationTimeout) == false {
                        pendingGet = nil
                        completion(.failure(AMQPError(.timeout, "basic.get \(queue): content did not arrive")))
                        throw AMQPError(.connectionLost, "basic.get \(queue): content did not arrive")
                    }
                }
            } else {
                completion(.success(nil))
            }
        case .status(let queue, let completion):
            try run(completion) { () throws(AMQPError) -> QueueStatus in
                let ok = queue.withCString {
                    amqp_queue_declare(c, Channel.admin, amqp_cstring_bytes($0), 1, 0, 0, 0, amqp_empty_table)
                }
                try check(amqp_get_rpc_reply(c), "queue.declare passive \(queue)", channel: Channel.admin)
                return QueueStatus(messages: ok?.pointee.message_count ?? 0, consumers: ok?.pointee.consumer_count ?? 0)
            }
        case .purge(let queue, let completion):
            try run(completion) { () throws(AMQPError) -> UInt32 in
                let ok = queue.withCString { amqp_queue_purge(c, Channel.admin, amqp_cstring_bytes($0)) }
                try check(amqp_get_rpc_reply(c), "queue.purge \(queue)", channel: Channel.admin)
                return ok?.pointee.message_count ?? 0
            }
        case .deleteQueue(let queue, let ifUnused, let ifEmpty, let completion):
            try run(completion) { () throws(AMQPError) in
                queue.withCString {
                    _ = amqp_queue_delete(c, Channel.admin, amqp_cstring_bytes($0), ifUnused ? 1 : 0, ifEmpty ? 1 : 0)
                }
                try check(amqp_get_rpc_reply(c), "queue.delete \(queue)", channel: Channel.admin)
            }
        }
    }

    /// Runs a synchronous operation for a caller: its result goes to the caller; a broker refusal
    /// (a channel close, reopened afterwards) ends there, anything else ends the connection too.
    private func run<T>(_ completion: Completion<T>, _ body: () throws(AMQPError) -> T) throws(AMQPError) {
        do {
            completion(.success(try body()))
        } catch {
            completion(.failure(error))
            if !error.isChannelRefusal { throw error }
        }
    }

    private func ioDeclare(_ t: Topology) throws(AMQPError) {
        guard let c = conn else { throw AMQPError(.notConnected, "not connected") }
        let arena = CArena()
        let ch = Channel.admin
        for e in t.exchanges {
            amqp_exchange_declare(
                c, ch, arena.bytes(e.name), arena.bytes(e.kind.rawValue), 0, e.durable ? 1 : 0, 0, 0,
                arena.table(e.arguments))
            try check(amqp_get_rpc_reply(c), "exchange.declare \(e.name)", channel: ch)
        }
        for q in t.queues {
            amqp_queue_declare(
                c, ch, arena.bytes(q.name), 0, q.durable ? 1 : 0, q.exclusive ? 1 : 0, q.autoDelete ? 1 : 0,
                arena.table(q.arguments))
            try check(amqp_get_rpc_reply(c), "queue.declare \(q.name)", channel: ch)
        }
        for b in t.bindings {
            amqp_queue_bind(c, ch, arena.bytes(b.queue), arena.bytes(b.exchange), arena.bytes(b.routingKey), amqp_empty_table)
            try check(amqp_get_rpc_reply(c), "queue.bind \(b.queue) \(b.exchange) \(b.routingKey)", channel: ch)
        }
    }

    private func ioStartConsumer(_ r: ConsumerRegistration) throws(AMQPError) {
        guard let c = conn else { throw AMQPError(.notConnected, "not connected") }
        let arena = CArena()
        amqp_basic_qos(c, Channel.consume, 0, r.prefetch, 0)
        try check(amqp_get_rpc_reply(c), "basic.qos", channel: Channel.consume)
        amqp_basic_consume(c, Channel.consume, arena.bytes(r.queue), arena.bytes(r.tag), 0, 0, 0, arena.table(r.arguments))
        try check(amqp_get_rpc_reply(c), "basic.consume \(r.queue)", channel: Channel.consume)
    }

    private func ioPublish(
        _ c: amqp_connection_state_t, _ messages: [OutgoingMessage],
        _ completion: @escaping Completion<[ConfirmTracker.MessageResult]>
    ) throws(AMQPError) {
        let batch = confirms.beginBatch(count: messages.count)
        batchCompletions[batch] = completion
        let arena = CArena()
        let user = configuration.url.user
        // Over plain TCP the frames of the whole batch go out in one write (rabbitmq-c sends three
        // per message); TLS goes through rabbitmq-c's socket.
        let direct = !configuration.url.tls
        let frameMax = Int(amqp_get_frame_max(c))
        defer { outgoing.reset() }
        for (index, message) in messages.enumerated() {
            var props = message.properties
            let messageId = props.messageId ?? nextMessageId()
            props.messageId = messageId
            if configuration.stampUserId {
                if props.userId == nil {
                    props.userId = user
                } else if props.userId != user {
                    let error = AMQPError(
                        .preconditionFailed,
                        "user_id '\(props.userId!)' differs from the connection's user '\(user)' (stampUserId is on); not published",
                        replyCode: nil, replyText: nil, messageIndex: index, messageId: messageId)
                    if let s = confirms.failed(batch: batch, index: index, error) { complete([s]) }
                    continue
                }
            }
            var cprops = arena.properties(props)
            let exchange = arena.bytes(message.exchange)
            let routingKey = arena.bytes(message.routingKey)
            let mandatory: amqp_boolean_t = message.mandatory ? 1 : 0
            let status = message.body.withUnsafeBytes { raw -> Int32 in
                let body =
                    raw.count == 0
                    ? amqp_empty_bytes : amqp_bytes_t(len: raw.count, bytes: UnsafeMutableRawPointer(mutating: raw.baseAddress))
                if direct {
                    return outgoing.append(
                        channel: Channel.publish, exchange: exchange, routingKey: routingKey, mandatory: mandatory,
                        properties: &cprops, body: body, frameMax: frameMax)
                }
                return amqp_basic_publish(c, Channel.publish, exchange, routingKey, mandatory, 0, &cprops, body)
            }
            try checkStatus(status, "basic.publish")
            if direct && outgoing.count >= OutgoingFrames.flushAt { try ioWriteOutgoing(c) }
            confirms.published(
                .init(messageId: messageId, exchange: message.exchange, routingKey: message.routingKey, userId: props.userId),
                batch: batch, index: index)
        }
        if direct && outgoing.count > 0 { try ioWriteOutgoing(c) }
    }

    /// Writes the encoded publishes to the socket, all of them (waiting for room while the
    /// broker reads); a socket that takes nothing for the operation timeout (at least 30 s) ends
    /// the connection.
    private func ioWriteOutgoing(_ c: amqp_connection_state_t) throws(AMQPError) {
        let wait = max(configuration.operationTimeout, .seconds(30))
        let ms = Int32(clamping: wait.components.seconds * 1000)
        let failure = outgoing.bytes.withUnsafeBufferPointer { buf -> Int32? in
            ot_write_all(amqp_get_sockfd(c), buf.baseAddress, outgoing.count, ms) == 0 ? nil : errno
        }
        outgoing.reset()
        if let failure {
            throw AMQPError(.connectionLost, "writing to broker: \(String(cString: strerror(failure)))")
        }
    }

    /// Hands finished publish batches to their callers.
    private func complete(_ settled: [ConfirmTracker.Settled]) {
        for s in settled {
            batchCompletions.removeValue(forKey: s.batch)?(.success(s.results))
        }
    }

    /// A message id for a message that has none (returns are matched to publishes by id): this
    /// connection's random prefix and a counter. Unique within the connection; across connections
    /// as unique as 64 random bits. No system call per message (`SystemRandomNumberGenerator`
    /// costs a `getrandom` each time, Foundation's `UUID()` a read of /dev/urandom).
    private func nextMessageId() -> String {
        messageCounter &+= 1
        return messageIdPrefix + String(messageCounter, radix: 16)
    }

    // MARK: Settlements

    private func settle(_ s: Settlement) {
        // An ack for a delivery of an earlier session: the broker has requeued it already.
        guard s.session == session else { return }
        if ledger.settle(s.deliveryTag, multiple: s.multiple, s.decision) == 0 {
            logger.debug(
                "AMQP settlement for an unknown or already settled delivery dropped",
                metadata: ["amqp.delivery.tag": "\(s.deliveryTag)"])
        }
    }

    private func ioFlushSettlements() throws(AMQPError) {
        guard ledger.hasDecisions, let c = conn else { return }
        let ch = Channel.consume
        for frame in ledger.flush() {
            switch frame {
            case .ack(let tag, let multiple):
                try checkStatus(amqp_basic_ack(c, ch, tag, multiple ? 1 : 0), "basic.ack")
            case .nack(let tag, let multiple, let requeue):
                try checkStatus(amqp_basic_nack(c, ch, tag, multiple ? 1 : 0, requeue ? 1 : 0), "basic.nack")
            case .reject(let tag, let requeue):
                try checkStatus(amqp_basic_reject(c, ch, tag, requeue ? 1 : 0), "basic.reject")
            }
        }
    }

    // MARK: Frames

    /// Reads and handles every frame available without waiting: the first read may take fresh
    /// bytes from the socket; after that, only what rabbitmq-c already holds (a full socket buffer
    /// is 128 KiB: hundreds of small deliveries). Returns how many frames it handled.
    private func ioDrainFrames() throws(AMQPError) -> Int {
        var handled = 0
        var tv = timeval(tv_sec: 0, tv_usec: 0)
        var touched: (publish: Bool, consume: Bool) = (false, false)
        defer {
            // Frames were copied out as they were handled: their pool memory can go back.
            if let c = conn, amqp_frames_enqueued(c) == 0 {
                if touched.publish { amqp_maybe_release_buffers_on_channel(c, Channel.publish) }
                if touched.consume { amqp_maybe_release_buffers_on_channel(c, Channel.consume) }
                amqp_maybe_release_buffers_on_channel(c, Channel.admin)
                amqp_maybe_release_buffers_on_channel(c, 0)
            }
        }
        while handled < 4096, let c = conn {
            if handled > 0 && amqp_data_in_buffer(c) == 0 && amqp_frames_enqueued(c) == 0 { break }
            var frame = amqp_frame_t()
            let status = amqp_simple_wait_frame_noblock(c, &frame, &tv)
            if status == AMQP_STATUS_TIMEOUT.rawValue { break }
            try checkStatus(status, "reading from broker")
            if frame.channel == Channel.publish { touched.publish = true } else if frame.channel == Channel.consume { touched.consume = true }
            try ioHandle(&frame)
            handled += 1
        }
        return handled
    }

    /// Handles the frames rabbitmq-c queued while it waited for the reply of a synchronous method
    /// (deliveries that came before it), without reading the socket.
    private func ioHandleQueuedFrames() throws(AMQPError) {
        var tv = timeval(tv_sec: 0, tv_usec: 0)
        while let c = conn, amqp_frames_enqueued(c) != 0 {
            var frame = amqp_frame_t()
            let status = amqp_simple_wait_frame_noblock(c, &frame, &tv)
            if status == AMQP_STATUS_TIMEOUT.rawValue { return }
            try checkStatus(status, "reading from broker")
            try ioHandle(&frame)
        }
    }

    /// Reads one frame, waiting up to `wait`; false when none came.
    private func ioReadOneFrame(wait: Duration) throws(AMQPError) -> Bool {
        guard let c = conn else { return false }
        var frame = amqp_frame_t()
        var tv = timeval(duration: wait)
        let status = amqp_simple_wait_frame_noblock(c, &frame, &tv)
        if status == AMQP_STATUS_TIMEOUT.rawValue { return false }
        try checkStatus(status, "reading from broker")
        try ioHandle(&frame)
        return true
    }

    /// Whether commands wait. (Not a stop request: `shutdown` wakes the loop through the pipe, and
    /// the shutdown drain must wait on the socket, not spin.)
    private func hasQueuedCommands() -> Bool { shared.withLock { !$0.commands.isEmpty } }

    /// Waits up to `timeoutMilliseconds` for the socket or the wake pipe; returns (socket readable,
    /// timed out).
    private func pollSocket(_ c: amqp_connection_state_t, timeoutMilliseconds: Int32) -> (Bool, Bool) {
        var fds = (
            pollfd(fd: amqp_get_sockfd(c), events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)
        )
        let rc = withUnsafeMutableBytes(of: &fds) { raw in
            poll(raw.baseAddress!.assumingMemoryBound(to: pollfd.self), 2, timeoutMilliseconds)
        }
        if fds.1.revents != 0 { drainWake() }
        return (fds.0.revents != 0, rc == 0)
    }

    /// Runs an assembler step; a frame out of order ends the connection.
    private func assembled<T>(_ step: () throws(FrameAssembler.AssemblyError) -> T) throws(AMQPError) -> T {
        do {
            return try step()
        } catch {
            throw AMQPError(.connectionLost, "frames out of order from the broker: \(error)")
        }
    }

    private func ioHandle(_ frame: inout amqp_frame_t) throws(AMQPError) {
        let channel = frame.channel
        switch Int32(frame.frame_type) {
        case AMQP_FRAME_METHOD:
            try ioHandleMethod(&frame, channel)
        case AMQP_FRAME_HEADER:
            guard channel == Channel.consume || channel == Channel.publish else { return }
            let size = ot_frame_header_body_size(&frame)
            let content: FrameAssembler.Content?
            do throws(FrameAssembler.AssemblyError) {
                if channel == Channel.consume {
                    content = try consumeContent.header(
                        bodySize: size, properties: CCopy.properties(ot_frame_header_properties(&frame), &strings))
                } else {
                    content = try publishContent.header(
                        bodySize: size, properties: CCopy.properties(ot_frame_header_properties(&frame), &strings))
                }
            } catch {
                throw Self.outOfOrder(error)
            }
            if let content { ioContent(content, channel) }
        case AMQP_FRAME_BODY:
            guard channel == Channel.consume || channel == Channel.publish else { return }
            let fragment = ot_frame_body_fragment(&frame)
            let bytes = UnsafeRawBufferPointer(start: fragment.bytes, count: fragment.bytes == nil ? 0 : fragment.len)
            let content: FrameAssembler.Content?
            do throws(FrameAssembler.AssemblyError) {
                content = channel == Channel.consume ? try consumeContent.body(bytes) : try publishContent.body(bytes)
            } catch {
                throw Self.outOfOrder(error)
            }
            if let content { ioContent(content, channel) }
        default:
            break
        }
    }

    private static func outOfOrder(_ error: FrameAssembler.AssemblyError) -> AMQPError {
        AMQPError(.connectionLost, "frames out of order from the broker: \(error)")
    }

    private func ioContent(_ content: consuming FrameAssembler.Content, _ channel: amqp_channel_t) {
        if channel == Channel.consume { ioDeliver(content) } else { ioReturned(content) }
    }

    private func ioHandleMethod(_ frame: inout amqp_frame_t, _ channel: amqp_channel_t) throws(AMQPError) {
        let id = Int(ot_frame_method_id(&frame))
        let decoded = ot_frame_method_decoded(&frame)
        switch id {
        case OT_METHOD_BASIC_DELIVER:
            let d = decoded!.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee
            do throws(FrameAssembler.AssemblyError) {
                try consumeContent.method(
                    .deliver(
                        consumerTag: consumerTag(d.consumer_tag), deliveryTag: d.delivery_tag,
                        redelivered: d.redelivered != 0, exchange: strings.string(d.exchange),
                        routingKey: strings.string(d.routing_key)))
            } catch {
                throw Self.outOfOrder(error)
            }
        case OT_METHOD_BASIC_ACK:
            let a = decoded!.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            try assembled { () throws(FrameAssembler.AssemblyError) in try publishContent.otherMethod() }
            complete(confirms.acked(tag: a.delivery_tag, multiple: a.multiple != 0))
        case OT_METHOD_BASIC_NACK:
            let n = decoded!.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            try assembled { () throws(FrameAssembler.AssemblyError) in try publishContent.otherMethod() }
            complete(confirms.nacked(tag: n.delivery_tag, multiple: n.multiple != 0))
        case OT_METHOD_BASIC_RETURN:
            let r = decoded!.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
            let method = FrameAssembler.Method.returned(
                replyCode: Int(r.reply_code), replyText: r.reply_text.string, exchange: r.exchange.string,
                routingKey: r.routing_key.string)
            try assembled { () throws(FrameAssembler.AssemblyError) in try publishContent.method(method) }
        case OT_METHOD_CHANNEL_CLOSE:
            let cl = decoded!.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            try ioChannelClosedByBroker(
                channel,
                .init(replyCode: cl.reply_code, replyText: cl.reply_text.string, classId: cl.class_id, methodId: cl.method_id))
        case OT_METHOD_CONNECTION_CLOSE:
            let cl = decoded!.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            ioConnectionCloseOk()
            throw AMQPError(
                .connectionLost, "connection closed by broker: \(cl.reply_code) \(cl.reply_text.string)",
                replyCode: cl.reply_code, replyText: cl.reply_text.string)
        case OT_METHOD_BASIC_CANCEL:
            // The broker cancelled a consumer (its queue was deleted): that consumer ends.
            let cancel = decoded!.assumingMemoryBound(to: amqp_basic_cancel_t.self).pointee
            let tag = cancel.consumer_tag.string
            logger.info("AMQP consumer cancelled by the broker (queue deleted?)", metadata: ["amqp.consumer": "\(tag)"])
            if let slot = consumers.removeValue(forKey: tag) {
                if lastSlot === slot { lastSlot = nil }
                ioHandOver()
                slot.registration.box.finish()
            }
        case OT_METHOD_CONNECTION_BLOCKED:
            logger.warning("broker blocked this connection (resource alarm)")
        case OT_METHOD_CONNECTION_UNBLOCKED:
            logger.info("broker unblocked this connection")
        default:
            if channel == Channel.consume { try assembled { () throws(FrameAssembler.AssemblyError) in try consumeContent.otherMethod() } }
            if channel == Channel.publish { try assembled { () throws(FrameAssembler.AssemblyError) in try publishContent.otherMethod() } }
        }
    }

    /// The consumer tag of a delivery, as the registration's own string when it is the same
    /// consumer as last time (no allocation per delivery).
    private func consumerTag(_ bytes: amqp_bytes_t) -> String {
        if let slot = lastSlot, bytes.equals(slot.registration.tag) { return slot.registration.tag }
        let tag = bytes.string
        lastSlot = consumers[tag]
        return lastSlot?.registration.tag ?? tag
    }

    /// A complete content on the consumer channel: a delivery for a consumer, or `basic.get`'s.
    private func ioDeliver(_ content: consuming FrameAssembler.Content) {
        // Move the properties and the body out instead of copying them (and their references).
        let (method, properties, body) = content.parts()
        switch method {
        case .deliver(let consumerTag, let tag, let redelivered, let exchange, let routingKey):
            ledger.delivered(tag)
            let slot: ConsumerSlot?
            if let last = lastSlot, last.registration.tag == consumerTag { slot = last } else { slot = consumers[consumerTag] }
            guard let slot else {
                // A delivery racing a cancel: give it back to the queue.
                ledger.settle(tag, multiple: false, .reject(requeue: true))
                return
            }
            if slot.pending.isEmpty {
                slotsWithPending.append(slot)
                slot.pending.reserveCapacity(64)
            }
            slot.pending.append(
                Delivery(
                    deliveryTag: tag, session: session, redelivered: redelivered, exchange: exchange, routingKey: routingKey,
                    consumerTag: consumerTag, properties: properties, body: body))
        case .getOk(let tag, let redelivered, let exchange, let routingKey, let count):
            ledger.delivered(tag)
            let delivery = Delivery(
                deliveryTag: tag, session: session, redelivered: redelivered, exchange: exchange, routingKey: routingKey,
                consumerTag: "", properties: properties, body: body)
            if let g = pendingGet {
                pendingGet = nil
                g(.success(FetchedMessage(delivery: delivery, messageCount: count)))
            } else {
                ledger.settle(tag, multiple: false, .reject(requeue: true))
            }
        case .returned:
            break
        }
    }

    /// A complete content on the publish channel: a returned (unroutable) message.
    private func ioReturned(_ content: FrameAssembler.Content) {
        guard case .returned(let code, let text, let exchange, let routingKey) = content.method else { return }
        confirms.returned(
            messageId: content.properties.messageId, exchange: exchange, routingKey: routingKey, replyCode: code,
            replyText: text)
    }

    /// Hands the deliveries read in this round to their consumers: one hand-over (and at most one
    /// wake-up) per consumer. A consumer whose iterator has ended gets nothing; its deliveries go
    /// back to the queue.
    private func ioHandOver() {
        guard !slotsWithPending.isEmpty else { return }
        for slot in slotsWithPending where !slot.pending.isEmpty {
            if !slot.registration.box.push(&slot.pending) {
                for d in slot.pending { ledger.settle(d.deliveryTag, multiple: false, .nack(requeue: true)) }
                slot.pending.removeAll()
            }
        }
        slotsWithPending.removeAll(keepingCapacity: true)
    }
}

extension AMQPError {
    /// A refusal that closed only a channel (the connection goes on; the channel reopens).
    var isChannelRefusal: Bool { code == .brokerRefused && replyCode != nil }
}

extension timeval {
    init(duration: Duration) {
        let (s, atto) = duration.components
        self.init(tv_sec: Int(s), tv_usec: Int(atto / 1_000_000_000_000))
    }
}
