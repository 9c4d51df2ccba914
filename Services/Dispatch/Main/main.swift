import DispatchCenter
import Runtime

// The dispatch service: operations of an OT from approval to closing, with durable SLA timers.
// Configuration: see README (CLOCK_OFFSET_SECONDS shifts the clock, TIMER_TICK_MS the timer period).
try await PlatformService.run(DispatchService.definition)
