import DispatchCenter
import Foundation
import Runtime

// The dispatch service: operations of an OT from approval to closing, with durable SLA timers.
// CLOCK_OFFSET_SECONDS shifts the service clock (tests, demos); SLA_TICK_MS sets the timer period.
let env = ProcessInfo.processInfo.environment
let configuration = try ServiceConfiguration(name: "dispatch")
let clock = SystemClock(offset: TimeInterval(env["CLOCK_OFFSET_SECONDS"] ?? "0") ?? 0)
let tick = Duration.milliseconds(Int(env["SLA_TICK_MS"] ?? "1000") ?? 1000)
let service = PlatformService(
    configuration: configuration,
    bindings: ServiceCatalog.dispatch,
    handler: DispatchHandler(),
    migrations: DispatchMigrations.all,
    clock: clock)
try await service.run { postgres, relay in
    [SLATimer(postgres: postgres, relay: relay, clock: clock, interval: tick)]
}
