import AMQP
import Contracts
import Foundation
import Runtime
import Testing

/// Commands and the events that make their subject known travel on different queues, so a quick
/// sender can overtake an event. Such a command is parked until its subject appears
/// (`PARK_TIMEOUT_MS`), not rejected.
@Suite("commands that overtake their events", .serialized)
struct LateEventTests {
    @Test func aReviewThatOvertakesItsPrefacturaIsAppliedOnceThePrefacturaArrives() async throws {
        try await withTestSystem("late-review") { system in
            let approval = try system.start("approval")
            try await approval.waitUntilReady()
            let events = try await EventCollector(system: system, keys: ["billing.prefactura-approved", "command.rejected"])
            let sender = try await system.sender()
            try await sender.publishConfirmed([
                try CommandSender.message(ReviewPrefactura(prefacturaId: "PF-LATE-1", decision: .approve, by: "commercial.head"))
            ])
            try await Task.sleep(for: .milliseconds(100))
            var issued = PrefacturaIssued.example
            issued.prefacturaId = "PF-LATE-1"
            try await sender.publishConfirmed([
                try EnvelopeCodec.outgoing(Envelope(source: "/ot/billing", correlationId: nil, causationId: nil, data: issued), appId: "billing")
            ])
            #expect(await eventually(timeout: .seconds(30)) { events.count("billing.prefactura-approved") == 1 })
            #expect(events.count("command.rejected") == 0)
            #expect(approval.log.contains("not known yet"))
        }
    }

    @Test func aCommandForSomethingThatNeverArrivesIsRejectedAfterItsRetries() async throws {
        try await withTestSystem("late-never") { system in
            let dispatch = try system.start("dispatch", environment: ["PARK_TIMEOUT_MS": "700"])
            try await dispatch.waitUntilReady()
            let events = try await EventCollector(system: system, keys: ["command.rejected"])
            let sender = try await system.sender()
            let start = ContinuousClock.now
            try await sender.publishConfirmed([
                try CommandSender.message(AssignWorkOrder(workOrderId: "WO-NEVER", assignee: Assignee(id: "T", name: "T", role: "technician")), id: "assign-never")
            ])
            #expect(await eventually(timeout: .seconds(30)) { events.count("command.rejected") == 1 })
            let rejected = try #require(events.decoded(CommandRejected.self).first)
            #expect(rejected.data.code == "notFound" && rejected.data.commandId == "assign-never")
            #expect(ContinuousClock.now - start >= .milliseconds(700), "parked (700 ms) before the rejection")
            try await Task.sleep(for: .seconds(1))
            #expect(events.count("command.rejected") == 1)
        }
    }
}
