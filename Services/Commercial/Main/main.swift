import Commercial
import Runtime

// The commercial service: opens OTs (SGC-PC-07 §4.1–4.3). Configuration: see README.
try await PlatformService.run(CommercialService.definition)
