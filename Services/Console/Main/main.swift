import Console
import ConsoleUI
import Foundation
import Platform
import Runtime

// The console service: the read model of every event, the operations board and dashboards in
// the browser and the HTTP API. Configuration (see README): CONSOLE_HTTP_HOST, CONSOLE_HTTP_PORT,
// CONSOLE_USERS, CONSOLE_TOKENS, CONSOLE_SESSION_SECRET, CONSOLE_SECURE_COOKIES,
// CONSOLE_LOG_MAX_AGE (retention of the event log `console.events.log`, an `x-max-age`, default
// 400D), CONSOLE_REPLAY (`off`: no automatic rebuild at start), and the kit's.
// `console hash-password` reads a password on standard input and prints its configured hash.
// `console replay` replays the event log into the console's input queue (with the same AMQP_URL,
// safe while the console runs: it ignores what it already has), then exits.
let environment = ProcessInfo.processInfo.environment
func fail(_ text: String) -> Never {
    FileHandle.standardError.write(Data("console: \(text)\n".utf8))
    exit(2)
}
if CommandLine.arguments.dropFirst().first == "replay" {
    exit(await ConsoleRebuild.replayCommand(environment: environment))
}
if CommandLine.arguments.dropFirst().first == "hash-password" {
    guard let password = readLine(strippingNewline: true), !password.isEmpty else { fail("give the password on standard input") }
    print(PasswordHash.make(password: password))
    exit(0)
}
if CommandLine.arguments.dropFirst().first == "openapi" {
    print(ConsoleOpenAPI.document)
    exit(0)
}
if CommandLine.arguments.dropFirst().first == "make-token" {
    let token = ConsoleSecrets.randomToken()
    print("\(token) \(ConsoleSecrets.tokenHash(token))")
    exit(0)
}
let users: UserDirectory
do { users = try UserDirectory(users: environment["CONSOLE_USERS"], tokens: environment["CONSOLE_TOKENS"]) } catch {
    fail("\(error)")
}
if users.isEmpty { fail("no user can sign in: set CONSOLE_USERS and/or CONSOLE_TOKENS (see README)") }
guard let port = Int(environment["CONSOLE_HTTP_PORT"] ?? "8090"), (0...65535).contains(port) else {
    fail("CONSOLE_HTTP_PORT is not a port")
}
let host = environment["CONSOLE_HTTP_HOST"] ?? "127.0.0.1"
// Sessions survive a restart only with a configured secret (hex, at least 32 bytes).
let secret: [UInt8]
if let text = environment["CONSOLE_SESSION_SECRET"] {
    guard text.count >= 64, text.count % 2 == 0, let bytes = hexBytes(text) else {
        fail("CONSOLE_SESSION_SECRET must be at least 64 hex digits")
    }
    secret = bytes
} else {
    secret = ConsoleSecrets.randomBytes(count: 32)
}
func hexBytes(_ text: String) -> [UInt8]? {
    var out: [UInt8] = []
    var i = text.startIndex
    while i < text.endIndex {
        let j = text.index(i, offsetBy: 2)
        guard let b = UInt8(text[i..<j], radix: 16) else { return nil }
        out.append(b)
        i = j
    }
    return out
}

/// Which console view counts the cases of a service's machine.
let followed: [String: String] = [
    "commercial/workOrder": "workorder", "approval/workOrder": "workorder", "dispatch/workOrder": "workorder",
    "postsale/request": "request", "records/file": "file", "records/retrieval": "retrieval",
]
let machines = Platform.services.filter { $0.name != "console" }.flatMap { service in
    service.aggregates.map { MachineEntry(service: service.name, info: $0, countedAs: followed["\(service.name)/\($0.kind)"]) }
}
let configuration = ConsoleHTTPConfiguration(
    host: host, port: port, users: users, sessions: SessionCodec(secret: secret),
    secureCookies: environment["CONSOLE_SECURE_COOKIES"] == "1")

// The event log and the automatic rebuild (ConsoleReplay.swift), decided before start-up.
let start: ConsoleRebuild.Start
do { start = try await ConsoleRebuild.prepare(environment: environment) } catch { fail("\(error)") }

try await PlatformService.run(start.definition, environment: environment) { resources in
    let http = ConsoleHTTP(
        configuration: configuration, store: ConsoleStore(postgres: resources.postgres, logger: resources.logger),
        intake: CommandIntake(publisher: resources.brokerUser, appId: "console"), publisher: resources.publisher,
        deadLetters: DeadLetterDesk(
            amqp: resources.publisher, services: Platform.services.map(\.name), publisher: resources.brokerUser),
        machines: machines, logger: resources.logger)
    if let replay = start.replayService(postgres: resources.postgres, logger: resources.logger) { return [http, replay] }
    return [http]
}
