import Billing
import Foundation
import Runtime

// The billing service: CxC, the prefactura batch of closed OTs, invoices (SGC-PC-07 §4.6–4.7,
// OPE-SUM-GES-P08), the recurring invoices (GC-PRC-OPE-ASE-04). Larger batches by default (the
// closed-OT batch, and the rounds of a billing cycle's timers); an explicit env value wins.
var environment = ProcessInfo.processInfo.environment
if environment["BATCH_SIZE"] == nil { environment["BATCH_SIZE"] = "256" }
if environment["BATCH_WAIT_MS"] == nil { environment["BATCH_WAIT_MS"] = "20" }
if environment["TIMER_BATCH"] == nil { environment["TIMER_BATCH"] = "1024" }
if environment["TIMER_CONCURRENCY"] == nil { environment["TIMER_CONCURRENCY"] = "2" }
try await PlatformService.run(BillingService.definition, environment: environment)
