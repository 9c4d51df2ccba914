import ConsoleUI
import Contracts
import Foundation
import Runtime

/// The console's HTTP API as an OpenAPI 3.0 document (`GET /api/v1/openapi.json`,
/// `deploy/console-openapi.json`; a test fails when the committed file drifts from this).
/// The command body is the contract's own envelope schema of each command type.
public enum ConsoleOpenAPI {
    static func obj(_ pairs: KeyValuePairs<String, JSONValue>) -> JSONValue {
        .object(Dictionary(uniqueKeysWithValues: pairs.map { ($0.0, $0.1) }))
    }
    static func str(_ s: String) -> JSONValue { .string(s) }
    static func ref(_ name: String) -> JSONValue { obj(["$ref": str("#/components/schemas/\(name)")]) }
    static func nullable(_ type: String, format: String? = nil) -> JSONValue {
        var o: [String: JSONValue] = ["type": str(type), "nullable": .bool(true)]
        if let format { o["format"] = str(format) }
        return .object(o)
    }
    static func string(
        _ description: String? = nil, enumeration: [String]? = nil, format: String? = nil, pattern: String? = nil, maxLength: Int? = nil
    ) -> JSONValue {
        var o: [String: JSONValue] = ["type": str("string")]
        if let pattern { o["pattern"] = str(pattern) }
        if let maxLength { o["maxLength"] = .number(Double(maxLength)) }
        if let description { o["description"] = str(description) }
        if let enumeration { o["enum"] = .array(enumeration.map(str)) }
        if let format { o["format"] = str(format) }
        return .object(o)
    }
    static func integer(_ min: Int? = nil, _ max: Int? = nil) -> JSONValue {
        var o: [String: JSONValue] = ["type": str("integer")]
        if let min { o["minimum"] = .number(Double(min)) }
        if let max { o["maximum"] = .number(Double(max)) }
        return .object(o)
    }
    static func object(_ properties: [String: JSONValue], required: [String]) -> JSONValue {
        obj(["type": str("object"), "properties": .object(properties), "required": .array(required.sorted().map(str))])
    }
    static func array(_ items: JSONValue) -> JSONValue { obj(["type": str("array"), "items": items]) }
    static func query(_ name: String, _ schema: JSONValue, _ description: String) -> JSONValue {
        obj(["name": str(name), "in": str("query"), "required": .bool(false), "schema": schema, "description": str(description)])
    }
    static func json(_ schema: JSONValue, _ description: String) -> JSONValue {
        obj(["description": str(description), "content": obj(["application/json": obj(["schema": schema])])])
    }
    static let errors: [String: JSONValue] = [
        "401": json(ref("Error"), "no valid bearer token or session"),
        "403": json(ref("Error"), "the role may not do this"),
    ]
    static func responses(_ ok: [String: JSONValue]) -> JSONValue { .object(ok.merging(errors) { a, _ in a }) }

    static var schemas: [String: JSONValue] {
        let amount = object(["minor": integer(), "currency": string()], required: ["minor", "currency"])
        let row = object(
            [
                "workOrderId": string(), "number": string(), "status": string(enumeration: WorkOrderViews.progress.order),
                "kind": string(), "serviceLine": string(), "country": string(), "customer": string(), "level": integer(1, 4),
                "deadline": string(format: "date-time"), "deadlineWhat": string(enumeration: ["priority", "contact", "due"]),
                "breaches": array(string()), "assignee": string(), "openedAt": string(format: "date-time"),
                "updatedAt": string(format: "date-time"),
            ], required: ["workOrderId", "status", "breaches", "updatedAt"])
        let entry = object(
            [
                "at": string(format: "date-time"), "type": string(), "from": string(), "to": string(), "summary": string(),
                "messageId": string(),
            ], required: ["at", "type", "summary", "messageId"])
        let document = object(["kind": string(), "uri": string(), "sha256": string()], required: ["kind", "uri"])
        let detail = object(
            [
                "row": ref("WorkOrderRow"), "customerId": string(), "sector": string(), "description": string(), "outcome": string(),
                "closedAt": string(format: "date-time"), "documents": array(document), "prefacturaId": string(),
                "prefacturaStatus": string(), "prefacturaAmount": amount, "invoiceId": string(), "invoiceAmount": amount,
                "invoiceIssuer": string(), "damageId": string(), "timeline": array(entry),
            ], required: ["row", "documents", "timeline"])
        let indicator = object(
            [
                "id": string(enumeration: Indicators.all.map(\.id)), "title": string(), "procedure": string(), "threshold": integer(0, 100),
                "numeratorLabel": string(), "denominatorLabel": string(),
            ], required: ["id", "title", "procedure", "threshold", "numeratorLabel", "denominatorLabel"])
        let month = object(
            [
                "month": string("YYYY-MM"), "numerator": integer(0), "denominator": integer(0), "percent": obj(["type": str("number")]),
                "verdict": string(enumeration: ["approved", "observed", "noData"]),
            ], required: ["month", "numerator", "denominator", "verdict"])
        let commands = MessageRegistry.allDescriptors.filter { $0.kind == .command }.sorted { $0.type < $1.type }
        return [
            "Error": object(["error": string(), "message": string()], required: ["error", "message"]),
            "WorkOrderRow": row,
            "WorkOrderList": object(["total": integer(0), "breached": integer(0), "items": array(ref("WorkOrderRow"))], required: ["total", "breached", "items"]),
            "WorkOrderDetail": detail,
            "IndicatorSeries": object(["indicator": indicator, "months": array(month)], required: ["indicator", "months"]),
            "CommandAccepted": object(["id": string(), "type": string(), "correlationId": string()], required: ["id", "type", "correlationId"]),
            "CommandRejected": CommandRejected.schema.json,
            "Command": obj(["oneOf": .array(commands.map { AsyncAPIDocument.envelopeSchema(for: $0).json })]),
        ]
    }

    static var paths: [String: JSONValue] {
        let filters: [JSONValue] = [
            query("country", string(enumeration: ["BO", "CL", "CO"]), "customer's country"),
            query("serviceLine", string(pattern: "^[^\\u0000]*$", maxLength: 200), "service line (CSV, SPOT, GEP, …)"),
            query("kind", string(enumeration: WorkOrderKind.allCases.map(\.rawValue)), "OT kind"),
            query("assignee", string(pattern: "^[^\\u0000]*$", maxLength: 200), "part of the assignee's name"),
            query("level", integer(1, 4), "priority level"),
            query("status", string(enumeration: WorkOrderViews.progress.order), "state (default: every state not final)"),
            query("limit", integer(1, 500), "rows per page (default 100)"),
            query("offset", integer(0, 1_000_000), "rows to skip"),
        ]
        let security: JSONValue = .array([obj(["bearer": .array([])]), obj(["session": .array([])])])
        return [
            "/api/v1/workorders": obj([
                "get": obj([
                    "operationId": str("listWorkOrders"), "summary": str("OTs not yet final, by priority then deadline"),
                    "parameters": .array(filters), "security": security,
                    "responses": responses(["200": json(ref("WorkOrderList"), "a page of OTs"), "400": json(ref("Error"), "a filter is invalid")]),
                ])
            ]),
            "/api/v1/workorders/{id}": obj([
                "get": obj([
                    "operationId": str("getWorkOrder"), "summary": str("one OT with its timeline, documents and money"),
                    "parameters": .array([obj(["name": str("id"), "in": str("path"), "required": .bool(true), "schema": string()])]),
                    "security": security,
                    "responses": responses(["200": json(ref("WorkOrderDetail"), "the OT"), "404": json(ref("Error"), "unknown to the console")]),
                ])
            ]),
            "/api/v1/kpis": obj([
                "get": obj([
                    "operationId": str("getIndicators"), "summary": str("every seed indicator over the months up to one"),
                    "parameters": .array([
                        query("month", string("YYYY-MM (default: this month)", pattern: "^[0-9]{4}-(0[1-9]|1[0-2])$"), "the last month"),
                        query("months", integer(1, 36), "how many months (default 12)"),
                    ]),
                    "security": security,
                    "responses": responses(["200": json(array(ref("IndicatorSeries")), "one series per indicator"), "400": json(ref("Error"), "invalid month")]),
                ])
            ]),
            "/api/v1/commands": obj([
                "post": obj([
                    "operationId": str("sendCommand"),
                    "summary": str("a command as a CloudEvent (structured mode), validated like the services do, published to ot.commands with a confirm"),
                    "security": security,
                    "requestBody": obj([
                        "required": .bool(true),
                        "content": obj(["application/cloudevents+json": obj(["schema": ref("Command")])]),
                    ]),
                    "responses": responses([
                        "202": json(ref("CommandAccepted"), "the broker confirmed it"),
                        "400": json(ref("CommandRejected"), "refused: the same shape as command.rejected"),
                        "413": json(ref("Error"), "more than 1 MiB"),
                        "415": json(ref("Error"), "not a structured-mode CloudEvent"),
                        "503": json(ref("Error"), "the broker did not take it; send it again"),
                    ]),
                ])
            ]),
        ]
    }

    public static var value: JSONValue {
        obj([
            "openapi": str("3.0.3"),
            "info": obj([
                "title": str("OT Platform console API"), "version": str("1.0.0"),
                "description": str(
                    "Read the console's read model (OTs, timelines, indicators) and send commands as CloudEvents. "
                        + "Authenticate with `Authorization: Bearer <token>` (tokens from CONSOLE_TOKENS) or the console's session "
                        + "cookie; a write with the cookie needs X-CSRF-Token. Roles: viewer reads, operator also sends commands, "
                        + "admin also replays dead letters."),
            ]),
            "servers": .array([obj(["url": str("/")])]),
            "paths": .object(paths),
            "components": obj([
                "schemas": .object(schemas),
                "securitySchemes": obj([
                    "bearer": obj(["type": str("http"), "scheme": str("bearer")]),
                    "session": obj(["type": str("apiKey"), "in": str("cookie"), "name": str("ot_session")]),
                ]),
            ]),
        ])
    }

    /// The document as served and committed.
    public static let document: String = value.rendered(pretty: true)
}
