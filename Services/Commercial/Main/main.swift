import Commercial
import Runtime

// The commercial service: opens OTs (SGC-PC-07 §4.1–4.3). Configuration: see README.
let service = PlatformService(
    configuration: try ServiceConfiguration(name: "commercial"),
    bindings: ServiceCatalog.commercial,
    handler: CommercialHandler(),
    migrations: CommercialMigrations.all)
try await service.run()
