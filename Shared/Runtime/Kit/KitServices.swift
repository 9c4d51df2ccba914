import Contracts
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// The shared durable timers of a service: every `TIMER_TICK_MS` it takes the timers that are
/// due by the service clock (`FOR UPDATE SKIP LOCKED`, so instances share the work and a timer
/// fires once) and hands each to its aggregate's `decide` as an input; the decision's events go
/// out through the outbox, and the timer is gone unless the decision sets it again — in the same
/// transaction, so a timer survives restarts and never fires twice.
///
/// `TIMER_CONCURRENCY` rounds run side by side (each its own transaction; `SKIP LOCKED` keeps
/// their timers apart): while one round decides and writes, the next one reads. A timer that
/// must come after others waits for them with a join (``TimerChange/join(_:at:after:)``).
public struct TimerService: Service {
    let runner: BatchRunner
    let interval: Duration
    let batch: Int
    let concurrency: Int
    let logger: Logger

    init(runner: BatchRunner, interval: Duration, batch: Int = 256, concurrency: Int = 1, logger: Logger) {
        self.runner = runner
        self.interval = interval
        self.batch = batch
        self.concurrency = max(1, concurrency)
        var l = logger
        l[metadataKey: "component"] = "timers"
        self.logger = l
    }

    public func run() async throws {
        logger.info("timers started", metadata: ["interval": "\(interval)", "concurrency": "\(concurrency)"])
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency { group.addTask { await lane() } }
        }
        logger.info("timers stopped")
    }

    /// Rounds one after the other while a round finds a full batch; otherwise a pause.
    func lane() async {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                if try await tick() >= batch { continue }
            } catch {
                logger.warning("timer round failed; retrying", metadata: ["error": "\(LogSafe.escape("\(error)"))"])
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// One round: fires what is due; returns how many timers fired.
    @discardableResult
    func tick() async throws -> Int {
        let limit = Int64(batch)
        let report = try await runner.run { conn, now in
            var items: [WorkItem] = []
            for try await (kind, id, name, dueAt) in try await conn.execute(TimersDue(now: now, limit: limit), logger: runner.logger) {
                items.append(
                    WorkItem(
                        origin: .timer(kind: kind, id: id, name: name, dueAt: dueAt), raw: nil,
                        messageId: "timer:\(kind):\(id):\(name)", type: StateMachine.timer(name), header: nil, message: nil,
                        failure: nil, isCommand: false, sender: nil))
            }
            return items
        }
        return report.outcomes.count
    }
}

/// Runs parked messages again: as soon as a batch creates the subject they wait for (it wakes
/// them), or when a sweep finds their subject exists anyway (created by another instance), or
/// when `PARK_TIMEOUT_MS` has passed — then a command whose subject is still unknown is
/// rejected (`notFound`). Parked messages live in the service's database: nothing that was
/// acknowledged can be lost with the broker.
public struct ParkingService: Service {
    let runner: BatchRunner
    let parser: MessageParser
    let interval: Duration
    let batch: Int
    let logger: Logger

    init(runner: BatchRunner, parser: MessageParser, interval: Duration, batch: Int = 256, logger: Logger) {
        self.runner = runner
        self.parser = parser
        self.interval = interval
        self.batch = batch
        var l = logger
        l[metadataKey: "component"] = "parking"
        self.logger = l
    }

    public func run() async throws {
        var rounds = 0
        await withGracefulShutdownHandler {
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                do {
                    // While messages may be parked, every round sweeps: a batch that parks a
                    // message races the batch that creates its subject (neither sees the other's
                    // uncommitted row), and only a sweep after both commits wakes it. Otherwise a
                    // sweep every tenth round notices what another instance parked.
                    if rounds % 10 == 0 || runner.parkingMayExist.load(ordering: .relaxed) { try await sweep() }
                    rounds += 1
                    if try await tick() >= batch { continue }
                } catch {
                    logger.warning("parking round failed; retrying", metadata: ["error": "\(LogSafe.escape("\(error)"))"])
                }
                await runner.parkingSignal.wait(upTo: interval)
            }
        } onGracefulShutdown: {
            runner.parkingSignal.notify()
        }
    }

    /// Wakes parked messages whose subject exists; notes whether anything is parked at all.
    func sweep() async throws {
        let now = runner.clock.now()
        let logger = self.logger
        let postgres = runner.postgres
        let (woken, parked) = try await postgres.withConnection(within: runner.transactionTimeout, "parking sweep") { conn in
            var woken = 0
            for try await _ in try await conn.execute(ParkSweep(now: now), logger: logger) { woken += 1 }
            var parked: Int64 = 0
            for try await n in try await conn.execute(ParkedCount(), logger: logger) { parked = n }
            return (woken, parked)
        }
        runner.parkingMayExist.store(parked > 0, ordering: .relaxed)
        if woken > 0 { logger.info("parked messages woken by the sweep", metadata: ["count": "\(woken)"]) }
    }

    /// One round: runs the woken and the expired parked messages; returns how many.
    @discardableResult
    func tick() async throws -> Int {
        let limit = Int64(batch)
        let parser = self.parser
        let logger = self.logger
        let report = try await runner.run { conn, now in
            var items: [WorkItem] = []
            for try await (_, _, _, _, queue, exchange, routingKey, props, body, _, expiresAt) in try await conn.execute(
                ParkedDue(now: now, limit: limit), logger: logger)
            {
                let stored = (try? JSONDecoder().decode(StoredProperties.self, from: Data(props.utf8)))?.properties ?? .init()
                let raw = RawMessage(
                    queue: queue, exchange: exchange, routingKey: routingKey, properties: stored, body: Array(buffer: body))
                items.append(parser.parse(raw, origin: .parked(expired: expiresAt <= now)))
            }
            return items
        }
        return report.outcomes.count
    }
}
