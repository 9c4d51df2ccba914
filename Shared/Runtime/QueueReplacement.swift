import AMQP
import Contracts
import Foundation
import Logging

/// Makes a queue exist as a service declares it when the broker already has one of that name
/// declared otherwise (another kind or other arguments: the broker refuses the redeclaration with
/// 406 PRECONDITION_FAILED) — e.g. `operations.dispatch`, a quorum queue before it became a
/// bounded priority queue. Queue arguments cannot change in place, so the queue is replaced and
/// its messages moved, with nothing lost:
///
/// 1. if the old queue has consumers, nothing changes and start-up fails (and retries) with an
///    error that tells the operator what to do: stop them;
/// 2. a holding queue `<queue>.replacing` (quorum) is bound like the queue, then the old queue is
///    unbound: new messages wait in the holding queue;
/// 3. the old queue's messages are moved to the holding queue (confirmed, then acknowledged) and
///    the old queue is deleted once empty and unused;
/// 4. the queue is declared anew with its bindings, the holding queue unbound, its messages moved
///    into the queue (with their ``Message/deliveryPriority``, computed from the body when they
///    carry none; a message that reached both queues in step 2 is moved once) and the holding
///    queue deleted.
///
/// Every step can be run again: a start-up interrupted half-way finishes the job the next time
/// (step 4 runs whenever the holding queue exists). A moved message keeps its body, id and
/// properties except `user_id` (the broker lets a user stamp only its own): its original
/// publisher travels in `x-origin-user` (``Provenance/userHeader``), as for replayed dead letters.
struct QueueReplacement {
    let amqp: AMQPConnection
    /// The exchanges the bindings need.
    let exchanges: [Topology.Exchange]
    let queue: Topology.Queue
    let bindings: [Topology.Binding]
    let logger: Logger

    /// Messages moved per confirmed publish.
    static let moveBatch = 500

    var holding: String { "\(queue.name).replacing" }

    /// Makes `queue` exist as declared (replacing an old one), with its bindings.
    func run() async throws {
        try await amqp.declareOnce(Topology(exchanges: exchanges))
        do {
            try await amqp.declareOnce(Topology(queues: [queue]))
        } catch let error as AMQPError where error.replyCode == 406 {
            try await setOldQueueAside(refusal: error)
            try await amqp.declareOnce(Topology(queues: [queue]))
        }
        try await amqp.declareOnce(Topology(bindings: bindings))
        try await emptyHoldingQueue()
    }

    /// Steps 1–3.
    private func setOldQueueAside(refusal: AMQPError) async throws {
        let old = try await amqp.queueStatus(queue.name)
        guard old.consumers == 0 else {
            throw ReplacementError(
                queue: queue.name,
                problem: """
                    it exists declared otherwise (\(refusal.replyText ?? refusal.message)) and has \(old.consumers) consumer(s): \
                    stop them (they can come back once this service started), and start-up replaces the queue at its next attempt, \
                    moving its \(old.messages) message(s) to the new one
                    """)
        }
        logger.notice(
            "queue exists declared otherwise: replacing it, its messages moved",
            metadata: ["queue": "\(queue.name)", "messages": "\(old.messages)", "broker": "\(refusal.replyText ?? "")"])
        try await amqp.declareOnce(Topology(queues: [.quorum(holding)], bindings: bindings.map(retarget)))
        for b in bindings { try await amqp.unbind(b) }
        let moved = try await move(from: queue.name, to: holding, prioritize: false)
        try await deleteUnboundQueue(queue.name)
        logger.notice("old queue moved aside and deleted", metadata: ["queue": "\(queue.name)", "moved": "\(moved)"])
    }

    /// Step 4, when the holding queue exists.
    private func emptyHoldingQueue() async throws {
        do {
            _ = try await amqp.queueStatus(holding)
        } catch let error as AMQPError where error.replyCode == 404 {
            return
        }
        for b in bindings { try await amqp.unbind(retarget(b)) }
        let moved = try await move(from: holding, to: queue.name, prioritize: true)
        try await deleteUnboundQueue(holding)
        logger.notice("queue replaced; held messages moved into it", metadata: ["queue": "\(queue.name)", "moved": "\(moved)"])
    }

    /// Deletes a queue nothing routes to any more once it is empty and unused. (Quorum queues
    /// refuse `queue.delete` with if-empty or if-unused — 540 NOT_IMPLEMENTED, closing the
    /// connection — so both are checked first; unbound, the queue cannot fill in between.)
    private func deleteUnboundQueue(_ name: String) async throws {
        let status = try await amqp.queueStatus(name)
        guard status.messages == 0, status.consumers == 0 else {
            throw ReplacementError(
                queue: queue.name,
                problem: "\(name) got \(status.consumers) consumer(s) and \(status.messages) message(s) while being emptied; start-up tries again")
        }
        try await amqp.deleteQueue(name)
    }

    /// The same binding, to the holding queue.
    private func retarget(_ b: Topology.Binding) -> Topology.Binding {
        Topology.Binding(queue: holding, exchange: b.exchange, routingKey: b.routingKey)
    }

    /// Moves every message of `source` to `target` in batches: fetched, published with confirms,
    /// then acknowledged. Returns how many were moved.
    private func move(from source: String, to target: String, prioritize: Bool) async throws -> Int {
        var moved = 0
        var seen = Set<String>()
        while true {
            var batch: [Delivery] = []
            while batch.count < Self.moveBatch, let m = try await amqp.get(queue: source) { batch.append(m.delivery) }
            if batch.isEmpty { return moved }
            var out: [OutgoingMessage] = []
            var duplicates: [Delivery] = []
            for d in batch {
                if let id = d.properties.messageId, !seen.insert(id).inserted {
                    duplicates.append(d)
                    continue
                }
                out.append(Self.moved(d, to: target, prioritize: prioritize))
            }
            let outcomes = try await amqp.publish(out)
            if let bad = outcomes.first(where: { $0 != .confirmed }) {
                for d in batch { amqp.nack(d, requeue: true) }
                throw ReplacementError(queue: queue.name, problem: "moving messages \(source) → \(target) failed: \(bad)")
            }
            amqp.ack(batch)
            moved += out.count
        }
    }

    /// A fetched message as published to `target` through the default exchange.
    static func moved(_ d: Delivery, to target: String, prioritize: Bool) -> OutgoingMessage {
        var props = d.properties
        if let user = props.userId, props.headers[Provenance.userHeader] == nil {
            props.headers[Provenance.userHeader] = .string(user)
        }
        props.userId = nil
        if prioritize, props.priority == nil { props.priority = priority(ofBody: d.body, type: props.type) }
        return OutgoingMessage(exchange: "", routingKey: target, body: d.body, properties: props)
    }

    /// The ``Message/deliveryPriority`` of an envelope of the contract, or nil.
    static func priority(ofBody body: [UInt8], type: String?) -> UInt8? {
        let data = Data(body)
        guard let type = type ?? (try? Wire.decodeHeader(data))?.type,
            let descriptor = MessageRegistry.descriptor(for: type),
            let message = try? descriptor.decode(data)
        else { return nil }
        return message.deliveryPriority
    }
}

/// A queue that cannot be replaced now, and what the operator can do about it.
struct ReplacementError: Error, CustomStringConvertible {
    var queue: String
    var problem: String
    var description: String { "cannot replace queue \(queue): \(problem)" }
}
