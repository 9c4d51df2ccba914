import Approval
import Runtime

// The approval service: the quality gate of OTs, the commercial review of prefacturas and the
// satisfaction survey (SGC-PC-07 §4.4, §4.6, §4.8). Configuration: see README.
try await PlatformService.run(ApprovalService.definition)
