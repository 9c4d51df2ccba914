import Approval
import Runtime

// The approval service: the quality gate of OTs, the commercial review of prefacturas and the
// satisfaction survey request (SGC-PC-07 §4.4, §4.6, §4.8). Configuration: see README.
let service = PlatformService(
    configuration: try ServiceConfiguration(name: "approval"),
    bindings: ServiceCatalog.approval,
    handler: ApprovalHandler(),
    migrations: ApprovalMigrations.all)
try await service.run()
