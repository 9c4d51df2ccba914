import AMQP
import Foundation
import Logging

var logger = Logger(label: "otbench")
logger.logLevel = .warning
let url = try AMQPURL(string: ProcessInfo.processInfo.environment["AMQP_URL"] ?? "amqp://guest:guest@localhost:5672/%2F")
let r = try await WrapperBench(url: url, messages: 100_000, size: 300, confirmBatch: 1000, prefetch: 500).run(logger: logger)
print("publish+confirm \(Int(r.publishRate)) msg/s, consume+ack \(Int(r.consumeRate)) msg/s")
