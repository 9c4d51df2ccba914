import Contracts
import Foundation
import Logging
import PostgresNIO
import Runtime
import ServiceLifecycle

/// The durable SLA timer: every `interval` it reads the deadlines in `dispatch.sla_deadlines`
/// that have passed (by the service clock) and that the OT has not met, and for each one marks
/// it breached and writes one `workorder.sla-breached` to the outbox in the same transaction —
/// exactly once, across restarts and across instances (`FOR UPDATE SKIP LOCKED`).
///
/// A deadline is met when the OT reaches the state that fulfils it (contact → assigned; due and
/// priority → attended); OTs that are cancelled, closed or rejected are never breached.
public struct SLATimer: Service {
    let postgres: PostgresClient
    let relay: OutboxRelay
    let clock: any WallClock
    let interval: Duration
    let batch: Int
    let logger: Logger

    public init(
        postgres: PostgresClient, relay: OutboxRelay, clock: any WallClock, interval: Duration = .seconds(1),
        batch: Int = 200, logger: Logger = Logger(label: "ot.dispatch")
    ) {
        self.postgres = postgres
        self.relay = relay
        self.clock = clock
        self.interval = interval
        self.batch = batch
        var l = logger
        l[metadataKey: "component"] = "sla-timer"
        self.logger = l
    }

    public func run() async throws {
        logger.info("SLA timer started", metadata: ["interval": "\(interval)"])
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let n = try await withDeadline(.seconds(30), "SLA timer round") { try await self.tick() }
                if n >= batch { continue }
            } catch {
                logger.warning("SLA timer round failed; retrying", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
        logger.info("SLA timer stopped")
    }

    /// One round: breaches what is due; returns how many deadlines it breached.
    @discardableResult
    public func tick() async throws -> Int {
        let now = clock.now()
        let logger = self.logger
        let batch = self.batch
        let n = try await postgres.withTransaction(logger: logger) { conn in
            let rows = try await conn.query(
                """
                SELECT d.work_order_id, d.what, d.deadline, w.correlation_id, w.causation_id
                FROM dispatch.sla_deadlines d JOIN dispatch.work_orders w ON w.id = d.work_order_id
                WHERE d.breached_at IS NULL AND d.met_at IS NULL AND d.deadline <= \(now)
                  AND w.state NOT IN ('cancelled', 'closed', 'rejected')
                  AND NOT (d.what = 'contact' AND w.first_assigned_at IS NOT NULL)
                  AND NOT (d.what IN ('due', 'priority') AND w.state = 'attended')
                ORDER BY d.deadline LIMIT \(batch)
                FOR UPDATE OF d SKIP LOCKED
                """, logger: logger)
            var due: [(String, String, Date, String?, String?)] = []
            for try await row in rows.decode((String, String, Date, String?, String?).self) { due.append(row) }
            var entries: [OutboxEntry] = []
            for (id, what, deadline, correlation, causation) in due {
                guard let target = SLATarget(rawValue: what) else { continue }
                try await conn.query(
                    """
                    UPDATE dispatch.sla_deadlines SET breached_at = \(now)
                    WHERE work_order_id = \(id) AND what = \(what)
                    """, logger: logger)
                let envelope = Envelope(
                    source: "/ot/dispatch", time: now, correlationId: correlation ?? id, causationId: causation,
                    traceparent: TraceContext.new(), data: WorkOrderSLABreached(workOrderId: id, deadline: deadline, what: target))
                entries.append(OutboxEntry(try EnvelopeCodec.outgoing(envelope, appId: "dispatch")))
                logger.notice("SLA deadline breached", metadata: ["ot.id": "\(id)", "sla.what": "\(what)", "sla.deadline": "\(deadline)"])
            }
            try await OutboxEntry.insert(entries, schema: "dispatch", on: conn, logger: logger)
            return entries.count
        }
        if n > 0 { relay.notify() }
        return n
    }
}
