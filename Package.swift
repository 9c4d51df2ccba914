// swift-tools-version:6.2
import CompilerPluginSupport
import PackageDescription

/// Compiler settings every target of the platform shares: Swift 6 language mode (strict
/// concurrency), `any` spelled out for existentials.
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "ot-platform",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "commercial", targets: ["CommercialService"]),
        .executable(name: "approval", targets: ["ApprovalService"]),
        .executable(name: "dispatch", targets: ["DispatchService"]),
        .executable(name: "billing", targets: ["BillingService"]),
        .executable(name: "postsale", targets: ["PostSaleService"]),
        .executable(name: "priority", targets: ["PriorityService"]),
        .executable(name: "records", targets: ["RecordsService"]),
        .executable(name: "console", targets: ["ConsoleService"]),
        .executable(name: "otctl", targets: ["OTCtl"]),
        .executable(name: "otbench", targets: ["OTBench"]),
        .executable(name: "amqp-c-baseline", targets: ["AMQPCBaseline"]),
        .library(name: "Contracts", targets: ["Contracts"]),
        .library(name: "AMQP", targets: ["AMQP"]),
        .library(name: "Runtime", targets: ["Runtime"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swiftlang/swift-syntax", from: "603.0.1"),
        // records: the document store's HTTP endpoint and its SHA-256 (also the console's, to come)
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // MARK: Shared libraries
        .systemLibrary(
            name: "CRabbitMQ",
            path: "Shared/CRabbitMQ",
            pkgConfig: "librabbitmq",
            providers: [.apt(["librabbitmq-dev"])]
        ),
        .target(
            name: "AMQP",
            dependencies: [
                "CRabbitMQ",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Shared/AMQP",
            swiftSettings: strict
        ),
        // `@Contract` / `@Field`: each field of a message declared once, init and schema derived.
        .macro(
            name: "ContractMacros",
            dependencies: [
                .product(name: "SwiftSyntax", package: "swift-syntax"),
                .product(name: "SwiftSyntaxBuilder", package: "swift-syntax"),
                .product(name: "SwiftSyntaxMacros", package: "swift-syntax"),
                .product(name: "SwiftCompilerPlugin", package: "swift-syntax"),
                .product(name: "SwiftDiagnostics", package: "swift-syntax"),
            ],
            path: "Shared/ContractMacros",
            swiftSettings: strict
        ),
        .target(
            name: "Contracts",
            dependencies: ["ContractMacros"],
            path: "Shared/Contracts",
            swiftSettings: strict
        ),
        .target(
            name: "Runtime",
            dependencies: [
                "AMQP",
                "Contracts",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Shared/Runtime",
            swiftSettings: strict
        ),

        // MARK: Services (one folder each: Sources/ = domain library, Main/ = executable)
    ]
        + service("Commercial", library: "Commercial")
        + service("Approval", library: "Approval")
        + service("Dispatch", library: "DispatchCenter")  // not "Dispatch": that is libdispatch's module
        + service("Billing", library: "Billing")
        + service("PostSale", library: "PostSale")
        + service("Priority", library: "Priority")
        + service(
            "Records", library: "Records",
            extra: [.product(name: "Hummingbird", package: "hummingbird"), .product(name: "Crypto", package: "swift-crypto")])
        + [
            // The console's pages, views and sign-in (pure values and rendering, no I/O).
            .target(
                name: "ConsoleUI",
                dependencies: ["Runtime", .product(name: "Crypto", package: "swift-crypto")],
                path: "Services/Console/UI", swiftSettings: strict),
        ]
        + service(
            "Console", library: "Console",
            extra: ["ConsoleUI", .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Crypto", package: "swift-crypto")],
            mainExtra: ["Platform"])
        + [
        // MARK: The platform as a whole (every service's definition), for tools and tests
        .target(
            name: "Platform",
            dependencies: ["Commercial", "Approval", "DispatchCenter", "Billing", "PostSale", "Priority", "Records", "Console", "Runtime"],
            path: "Services/Platform",
            swiftSettings: strict
        ),

        // MARK: Operator tools
        .executableTarget(
            name: "OTCtl",
            dependencies: [
                "AMQP", "Contracts", "Runtime", "Platform", "Commercial", "Approval", "DispatchCenter", "Billing", "PostSale", "Priority", "Records",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Services/OTCtl",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "OTBench",
            dependencies: [
                "AMQP", "Contracts", "Runtime", "Platform", "CRabbitMQ", "ConsoleUI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Services/OTBench/Swift",
            swiftSettings: strict
        ),
        // The same publish/consume loops written directly in C over rabbitmq-c: the baseline the
        // Swift wrapper is measured against, side by side.
        .executableTarget(
            name: "AMQPCBaseline",
            dependencies: ["CRabbitMQ"],
            path: "Services/OTBench/CBaseline"
        ),

        // MARK: Tests
        .testTarget(
            name: "ContractsTests",
            dependencies: ["Contracts"],
            path: "Tests/ContractsTests",
            swiftSettings: strict
        ),
        .testTarget(
            name: "AMQPTests",
            dependencies: ["AMQP"],
            path: "Tests/AMQPTests",
            swiftSettings: strict
        ),
        .testTarget(
            name: "RuntimeTests",
            dependencies: ["Runtime", "AMQP", "Contracts", "Platform", .product(name: "Logging", package: "swift-log")],
            path: "Tests/RuntimeTests",
            swiftSettings: strict
        ),
        .testTarget(
            name: "CommercialTests", dependencies: ["Commercial", "Contracts", "Runtime"], path: "Tests/CommercialTests",
            swiftSettings: strict),
        .testTarget(
            name: "ApprovalTests", dependencies: ["Approval", "Contracts", "Runtime"], path: "Tests/ApprovalTests",
            swiftSettings: strict),
        .testTarget(
            name: "DispatchTests", dependencies: ["DispatchCenter", "Contracts", "Runtime"], path: "Tests/DispatchTests",
            swiftSettings: strict),
        .testTarget(
            name: "BillingTests", dependencies: ["Billing", "Contracts", "Runtime"], path: "Tests/BillingTests",
            swiftSettings: strict),
        .testTarget(
            name: "PostSaleTests", dependencies: ["PostSale", "Contracts", "Runtime"], path: "Tests/PostSaleTests",
            swiftSettings: strict
        ),
        .testTarget(
            name: "PriorityTests", dependencies: ["Priority", "Contracts", "Runtime"], path: "Tests/PriorityTests",
            swiftSettings: strict),
        .testTarget(
            name: "RecordsTests", dependencies: ["Records", "Contracts", "Runtime"], path: "Tests/RecordsTests",
            swiftSettings: strict),
        .testTarget(
            name: "ConsoleUITests", dependencies: ["ConsoleUI", "Runtime"], path: "Tests/ConsoleUITests", swiftSettings: strict),
        .testTarget(
            name: "ConsoleTests", dependencies: ["Console", "ConsoleUI", "Contracts", "Runtime", "Platform"], path: "Tests/ConsoleTests",
            swiftSettings: strict),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "AMQP", "Contracts", "Runtime", "Platform", "Commercial", "PostSale", "Billing", "Priority", "Records", "Console", "ConsoleUI",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/IntegrationTests",
            swiftSettings: strict
        ),
    ]
)

/// A service's two targets: its domain library (`Services/<folder>/Sources`, testable without I/O)
/// and its thin executable (`Services/<folder>/Main`, product = the lower-cased folder name).
func service(_ folder: String, library: String, extra: [Target.Dependency] = [], mainExtra: [Target.Dependency] = []) -> [Target] {
    [
        .target(
            name: library, dependencies: ["Contracts", "Runtime"] + extra, path: "Services/\(folder)/Sources",
            swiftSettings: strict),
        .executableTarget(
            name: "\(folder)Service", dependencies: [.target(name: library), "Runtime"] + mainExtra, path: "Services/\(folder)/Main",
            swiftSettings: strict),
    ]
}
