import Priority
import Runtime

// The priority service: repeated damages and the priority matrix (COM-GCM-P12). Configuration: see README.
try await PlatformService.run(PriorityService.definition)
