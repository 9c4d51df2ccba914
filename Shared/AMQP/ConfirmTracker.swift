/// Publisher-confirm bookkeeping for one channel in confirm mode, as a value with no I/O.
///
/// The I/O thread tells it what it published (`published`), what the broker answered
/// (`returned`, `acked`, `nacked`) and when the channel or connection ended (`channelClosed`,
/// `failAll`); every call that can finish publish calls returns the batches it finished, each with
/// one result per message, in the order the caller gave them.
///
/// Delivery tags count publishes on the channel from 1 (the broker numbers them the same way in
/// confirm mode); a new channel starts again from 1 after `channelClosed` or `failAll`.
struct ConfirmTracker: Sendable {
    /// Identifies one `publish` call (a batch of messages settled together).
    typealias BatchID = UInt64
    /// One message's result: an outcome from the broker, or why there is none.
    typealias MessageResult = Result<PublishOutcome, AMQPError>

    /// What the tracker keeps of a published message: enough to match a `basic.return` and to
    /// recognise the message a channel close names.
    struct Published: Sendable, Equatable {
        var messageId: String
        var exchange: String
        var routingKey: String
        var userId: String?

        init(messageId: String, exchange: String, routingKey: String, userId: String? = nil) {
            self.messageId = messageId
            self.exchange = exchange
            self.routingKey = routingKey
            self.userId = userId
        }
    }

    /// A batch whose every message has a result.
    struct Settled: Sendable, Equatable {
        var batch: BatchID
        var results: [MessageResult]
    }

    /// The broker's `channel.close`: reply code and text, and the method that caused it.
    struct ChannelClose: Sendable, Equatable {
        var replyCode: UInt16
        var replyText: String
        var classId: UInt16
        var methodId: UInt16

        init(replyCode: UInt16, replyText: String, classId: UInt16 = 0, methodId: UInt16 = 0) {
            self.replyCode = replyCode
            self.replyText = replyText
            self.classId = classId
            self.methodId = methodId
        }

        /// Whether the broker closed the channel because of a `basic.publish` (class 60, method 40).
        var causedByPublish: Bool { classId == 60 && methodId == 40 }
    }

    private struct Entry {
        let tag: UInt64
        let batch: BatchID
        let index: Int
        let published: Published
        var returned: (code: Int, text: String)?
        var settled = false
    }

    private struct Batch {
        var results: [MessageResult?]
        var remaining: Int

        /// Records one message's result; false when the index is out of range or already settled.
        mutating func record(_ index: Int, _ result: MessageResult) -> Bool {
            guard index >= 0, index < results.count, results[index] == nil else { return false }
            results[index] = result
            remaining -= 1
            return true
        }
    }

    /// Unsettled publishes in tag order, from `head` on (entries before `head` are settled).
    private var entries: [Entry] = []
    private var head = 0
    private var batches: [BatchID: Batch] = [:]
    private var lastBatch: BatchID = 0

    /// The delivery tag the broker will give the next publish on this channel.
    private(set) var nextTag: UInt64 = 1

    init() {}

    /// Publishes waiting for the broker's confirm.
    var pendingCount: Int { entries[head...].reduce(0) { $0 + ($1.settled ? 0 : 1) } }

    /// Whether no publish waits for a confirm and no batch is open.
    var isIdle: Bool { batches.isEmpty }

    /// Opens a batch of `count` messages; each then gets `published` or `failed`.
    mutating func beginBatch(count: Int) -> BatchID {
        precondition(count > 0, "a publish batch has at least one message")
        lastBatch += 1
        batches[lastBatch] = Batch(results: Array(repeating: nil, count: count), remaining: count)
        return lastBatch
    }

    /// Records message `index` of `batch` as sent with `basic.publish`; returns its delivery tag.
    @discardableResult
    mutating func published(_ published: Published, batch: BatchID, index: Int) -> UInt64 {
        let tag = nextTag
        nextTag += 1
        entries.append(Entry(tag: tag, batch: batch, index: index, published: published))
        return tag
    }

    /// Settles message `index` of `batch` without a broker answer (it was not sent).
    mutating func failed(batch: BatchID, index: Int, _ error: AMQPError) -> Settled? {
        resolve(batch, index, .failure(error))
    }

    /// A `basic.return` (unroutable message): the next confirm of the earliest unsettled publish
    /// with this message id (and exchange and routing key) reports `.returned`. The broker sends
    /// the return before the confirm of the same message.
    mutating func returned(messageId: String?, exchange: String, routingKey: String, replyCode: Int, replyText: String) {
        guard let messageId else { return }
        var fallback: Int?
        for i in head..<entries.count where !entries[i].settled && entries[i].returned == nil {
            let p = entries[i].published
            guard p.messageId == messageId else { continue }
            if p.exchange == exchange && p.routingKey == routingKey {
                entries[i].returned = (replyCode, replyText)
                return
            }
            if fallback == nil { fallback = i }
        }
        if let i = fallback { entries[i].returned = (replyCode, replyText) }
    }

    /// A `basic.ack`: confirmed (or returned, when a return preceded it).
    mutating func acked(tag: UInt64, multiple: Bool) -> [Settled] {
        settle(tag: tag, multiple: multiple) { entry in
            if let r = entry.returned { return .success(.returned(replyCode: r.code, replyText: r.text)) }
            return .success(.confirmed)
        }
    }

    /// A `basic.nack`: the broker could not take the message.
    mutating func nacked(tag: UInt64, multiple: Bool) -> [Settled] {
        settle(tag: tag, multiple: multiple) { _ in .success(.nacked) }
    }

    /// The broker closed the channel: no confirm will come for any unsettled publish. When the close
    /// refused a publish (403, 406, 404 … caused by `basic.publish`), the publish it names fails with
    /// a refusal that must not be retried as is (``AMQPError/Code/accessRefused``,
    /// ``AMQPError/Code/preconditionFailed`` or ``AMQPError/Code/brokerRefused``); every other
    /// unsettled publish fails with ``AMQPError/Code/channelClosed`` (retryable: those before the
    /// refused one may have been routed, those after it were discarded by the broker).
    ///
    /// The broker processes publishes in order and discards everything after the one it refuses,
    /// so the refused publish is always unsettled: it is the earliest unsettled publish that the
    /// reply text names (topic, `user_id`, or exchange), or the only unsettled publish. When neither
    /// tells, nothing is blamed and every unsettled publish fails with `channelClosed`.
    /// Delivery tags restart at 1 (the next channel).
    mutating func channelClosed(_ close: ChannelClose) -> [Settled] {
        let culprit = close.causedByPublish ? refusedEntry(close) : nil
        var settledBatches: [Settled] = []
        for i in head..<entries.count where !entries[i].settled {
            let e = entries[i]
            let error: AMQPError
            if i == culprit {
                error = AMQPError.refusal(close, messageIndex: e.index, messageId: e.published.messageId)
            } else {
                error = AMQPError(
                    .channelClosed,
                    "the broker closed the channel before this publish was confirmed "
                        + "(\(close.replyCode) \(close.replyText)); publish it again",
                    replyCode: close.replyCode, replyText: close.replyText, messageIndex: e.index,
                    messageId: e.published.messageId)
            }
            if let s = resolve(e.batch, e.index, .failure(error)) { settledBatches.append(s) }
        }
        restart()
        return settledBatches
    }

    /// The connection is gone (or shutting down): every unsettled publish fails with `error`.
    mutating func failAll(_ error: AMQPError) -> [Settled] {
        var settledBatches: [Settled] = []
        for i in head..<entries.count where !entries[i].settled {
            var e = error
            e.messageIndex = entries[i].index
            e.messageId = entries[i].published.messageId
            if let s = resolve(entries[i].batch, entries[i].index, .failure(e)) { settledBatches.append(s) }
        }
        // Batches with messages not yet published (the connection failed half-way through one).
        for id in batches.keys.sorted() {
            guard let b = batches[id] else { continue }
            for (index, r) in b.results.enumerated() where r == nil {
                var e = error
                e.messageIndex = index
                if let s = resolve(id, index, .failure(e)) { settledBatches.append(s) }
            }
        }
        restart()
        return settledBatches
    }

    // MARK: Internals

    private mutating func restart() {
        entries.removeAll(keepingCapacity: true)
        head = 0
        nextTag = 1
    }

    /// The entry index of the publish a channel close refused, if the close tells.
    private func refusedEntry(_ close: ChannelClose) -> Int? {
        let text = close.replyText
        let unsettled = (head..<entries.count).filter { !entries[$0].settled }
        let named: (Published) -> Bool
        if text.contains("access to topic '") {
            // "ACCESS_REFUSED - write access to topic 'K' in exchange 'X' in vhost 'V' refused for user 'U'"
            named = { text.contains("topic '\($0.routingKey)' in exchange '\($0.exchange)'") }
        } else if text.contains("user_id property set to '") {
            // "PRECONDITION_FAILED - user_id property set to 'A' but authenticated user was 'B'"
            named = { p in p.userId.map { text.contains("user_id property set to '\($0)'") } ?? false }
        } else {
            // "ACCESS_REFUSED - access to exchange 'X' in vhost 'V' refused for user 'U'",
            // "NOT_FOUND - no exchange 'X' in vhost 'V'", "… internal exchange 'X' …"
            named = { text.contains("exchange '\($0.exchange)'") }
        }
        if let i = unsettled.first(where: { named(entries[$0].published) }) { return i }
        return unsettled.count == 1 ? unsettled[0] : nil
    }

    private mutating func settle(tag: UInt64, multiple: Bool, _ outcome: (Entry) -> MessageResult) -> [Settled] {
        var settledBatches: [Settled] = []
        if multiple {
            while head < entries.count && entries[head].tag <= tag {
                if !entries[head].settled {
                    entries[head].settled = true
                    let e = entries[head]
                    if let s = resolve(e.batch, e.index, outcome(e)) { settledBatches.append(s) }
                }
                head += 1
            }
        } else if let i = index(of: tag), !entries[i].settled {
            entries[i].settled = true
            let e = entries[i]
            if let s = resolve(e.batch, e.index, outcome(e)) { settledBatches.append(s) }
            while head < entries.count && entries[head].settled { head += 1 }
        }
        compact()
        return settledBatches
    }

    /// Binary search: tags increase along `entries`.
    private func index(of tag: UInt64) -> Int? {
        var lo = head
        var hi = entries.count - 1
        while lo <= hi {
            let mid = (lo + hi) / 2
            if entries[mid].tag == tag { return mid }
            if entries[mid].tag < tag { lo = mid + 1 } else { hi = mid - 1 }
        }
        return nil
    }

    private mutating func compact() {
        if head == entries.count {
            entries.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 4096 && head * 2 > entries.count {
            entries.removeFirst(head)
            head = 0
        }
    }

    private mutating func resolve(_ batch: BatchID, _ index: Int, _ result: MessageResult) -> Settled? {
        // In place (through the dictionary's values): copying a batch's results per message would
        // make a batch of n messages cost n².
        guard let i = batches.index(forKey: batch), batches.values[i].record(index, result) else { return nil }
        guard batches.values[i].remaining == 0 else { return nil }
        let done = batches.remove(at: i).value
        return Settled(batch: batch, results: done.results.map { $0! })
    }
}
