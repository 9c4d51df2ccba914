import AMQP
import ArgumentParser
import Contracts
import Foundation
import Platform
import Runtime

/// The root command: only groups the subcommands.
struct OTCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "otctl",
        abstract: "Operator tool of the OT Platform.",
        discussion: """
            Exit status: 0 success, 1 failure (broker, unroutable, timeout), 2 invalid message, \
            64 invalid usage.
            """,
        subcommands: [
            Send.self, Tail.self, Dead.self, Demo.self, Report.self, Reconcile.self, KPI.self, AsyncAPI.self, Definitions.self,
            Permissions.self, Machines.self,
        ])

    /// Declared here too so `otctl --amqp-url … <subcommand>` works as well as after the subcommand.
    @OptionGroup var global: GlobalOptions
}

/// Options every subcommand that talks to the broker takes.
struct GlobalOptions: ParsableArguments {
    /// The URL used when neither `--amqp-url` nor the environment gives one.
    static let defaultURL = "amqp://otctl:otctl-local@localhost:5672/ot"

    @Option(
        name: .customLong("amqp-url"),
        help: ArgumentHelp(
            "Broker URL (amqp://user:password@host:port/vhost).",
            discussion: "Default: $OTCTL_AMQP_URL, then $AMQP_URL, then \(defaultURL).",
            valueName: "url"))
    var amqpURL: String?

    /// The URL to use: the option, `OTCTL_AMQP_URL`, `AMQP_URL`, then the local default.
    var resolvedURL: String {
        let env = ProcessInfo.processInfo.environment
        let candidates = [amqpURL, env["OTCTL_AMQP_URL"], env["AMQP_URL"]]
        return candidates.compactMap { $0 }.first { !$0.isEmpty } ?? Self.defaultURL
    }
}

/// `otctl asyncapi`: prints the AsyncAPI document of the contract.
struct AsyncAPI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "asyncapi", abstract: "Print the AsyncAPI document of the message contract.")

    func run() async throws {
        Console.write(Platform.asyncAPI)
    }
}

/// `otctl definitions`: prints the broker definitions file.
struct Definitions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "definitions",
        abstract: "Print the RabbitMQ definitions (exchanges, queues, bindings, policies).",
        discussion: "Regenerate the committed file with: otctl definitions > deploy/rabbitmq/definitions.json")

    @Option(help: "Virtual host the definitions are for.")
    var vhost = "ot"

    func run() async throws {
        Console.write(Platform.brokerDefinitions(vhost: vhost))
    }
}

/// `otctl permissions`: prints the broker users' permissions file.
struct Permissions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "permissions",
        abstract: "Print every broker user's permissions and topic permissions (least privilege).",
        discussion: "Regenerate the committed file with: otctl permissions > deploy/rabbitmq/permissions.tsv")

    func run() async throws {
        Console.write(Platform.permissions)
    }
}

/// `otctl machines`: prints the state machines of every service as Markdown with diagrams.
struct Machines: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "machines",
        abstract: "Print every aggregate's state machine (states, transitions, Mermaid diagram).",
        discussion: "Regenerate the committed file with: otctl machines > docs/state-machines.md")

    func run() async throws {
        Console.write(Platform.stateMachines)
    }
}
