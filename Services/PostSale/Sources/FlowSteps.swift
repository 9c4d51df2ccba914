import Contracts
import Foundation
import Runtime

/// The flows' own steps (GC-PRC-OPE-ASE-04 A–L), pure: what a request does when its
/// requirements are met, and at each later step.
enum FlowSteps {
    typealias Request = PostSaleRequest
    typealias Progress = PostSaleRequest.Progress
    typealias Contract = PostSaleContract

    static func effect(_ s: Request.State, _ e: Contract.Effect) -> Target {
        .to(Contract.self, s.contractId, .apply(requestId: s.requestId, e))
    }

    static func fee(_ s: Request.State, _ n: Int = 1, productId: String?, amount: Money, reason: String) -> RecurringChargeAdded {
        RecurringChargeAdded(
            chargeId: "RC-\(s.requestId)-\(n)", requestId: s.requestId, contractId: s.contractId, productId: productId, amount: amount,
            reason: reason)
    }

    static func damage(_ s: Request.State, productId: String, fault: String, facts: Contract.State?) -> ReportDamage {
        var known: ProductType?
        if case .string(let t)? = s.results["productType"] { known = ProductType(rawValue: t) }
        let type = facts?.product(productId)?.product.type ?? known ?? s.products.first { $0.id == productId }?.type ?? .line
        let d = s.details
        var address: String?
        var phone: String?
        if case .string(let a)? = d["address"] { address = a }
        if case .string(let p)? = d["referencePhone"] { phone = p }
        return ReportDamage(
            customer: s.customer, product: ProductRef(id: productId, type: type), channel: .retention, fault: fault,
            address: address ?? facts?.product(productId)?.address, referencePhone: phone,
            reporter: Payer(name: s.customer.name, idNumber: s.customer.taxId))
    }

    static func workOrder(_ s: Request.State, kind: WorkOrderKind, description: String) -> OpenWorkOrder {
        OpenWorkOrder(
            workOrderId: Request.workOrderId(s.requestId), kind: kind, customer: s.customer, documents: [],
            description: "\(description) — solicitud \(s.requestId), contrato \(s.contractId)")
    }

    /// Opens an OT and tracks it on the contract; the request waits for its closing.
    static func openWorkOrder(_ s: Request.State, kind: WorkOrderKind, productIds: [String], description: String) -> Progress {
        let ot = workOrder(s, kind: kind, description: description)
        var p = Progress(.wait(.fieldWork), results: ["workOrderId": .string(ot.workOrderId!)])
        p.events = [ot]
        p.workOrderId = ot.workOrderId
        p.aliases = [ot.workOrderId!]
        p.followUps = [effect(s, .trackWorkOrder(workOrderId: ot.workOrderId!, productIds: productIds))]
        return p
    }

    static func strings(_ items: [String]) -> JSONValue { .array(items.map(JSONValue.string)) }

    // MARK: First steps

    static func start(_ s: Request.State, _ details: FlowDetails, facts: Contract.State, context: DecisionContext) throws(Rejection) -> Progress {
        let today = Day(context.now)
        let tariff = Tariff.current
        switch details {
        case .supplementary(let productId, let service, let action):
            let enabled = facts.product(productId)?.services.contains(service.rawValue) ?? false
            if enabled == (action == .enable) {
                return Progress(.turnDown(code: "nothingToChange", reason: "\(service.rawValue) ya está \(enabled ? "habilitado" : "deshabilitado")"))
            }
            var p = Progress(results: ["productId": .string(productId), "service": .string(service.rawValue), "action": .string(action.rawValue)])
            p.events = [fee(s, productId: productId, amount: tariff.supplementaryService, reason: "Servicio suplementario \(service.rawValue): \(action.rawValue)")]
            p.followUps = [effect(s, .setService(productId: productId, service: service.rawValue, enabled: action == .enable, on: today))]
            return p

        case .planChange(let productId, let plan, let monthly):
            guard let product = facts.product(productId)?.product else { throw Rejection(.internalError, "product checked before") }
            if monthly.currency != product.monthly.currency {
                throw .validation([FieldProblem(field: "data.details.newMonthly.currency", problem: "must be \(product.monthly.currency.rawValue)")])
            }
            var p = Progress(results: [
                "productId": .string(productId), "newPlan": .string(plan), "from": .string(today.description),
                "previousMonthly": .number(Double(product.monthly.minor)), "newMonthly": .number(Double(monthly.minor)),
                "direction": .string(monthly.minor >= product.monthly.minor ? "higher" : "lower"),
            ])
            p.followUps = [effect(s, .changePlan(productId: productId, plan: plan, monthly: monthly, on: today))]
            return p

        case .transfer:
            return Progress(.wait(.feasibility))

        case .suspension(let from, let to, let ids):
            if let proforma = facts.overdue(on: today).first {
                return Progress(.turnDown(code: "accountNotUpToDate", reason: "La proforma \(proforma.id) venció el \(proforma.dueBy) sin pago"))
            }
            if let running = facts.suspensions.first(where: { $0.overlaps(from, to) }) {
                // One suspension at a time: its products come back before another starts.
                return Progress(.turnDown(
                    code: "alreadySuspended", reason: "La suspensión \(running.requestId) (\(running.from) – \(running.to)) sigue en curso"))
            }
            if let earlier = facts.suspensions.first(where: { $0.from.year == from.year }) {
                return Progress(.turnDown(
                    code: "suspensionAlreadyThisYear",
                    reason: "Ya hubo una suspensión en \(from.year) (\(earlier.from) – \(earlier.to), solicitud \(earlier.requestId))"))
            }
            if to > from.adding(months: 4) {
                return Progress(.turnDown(code: "suspensionTooLong", reason: "La suspensión dura como máximo 4 meses: hasta el \(from.adding(months: 4))"))
            }
            let named = ids ?? (s.products.isEmpty ? nil : s.products.map(\.id))
            let products = named ?? facts.products.filter { $0.status == .active }.map(\.product.id)
            var p = Progress(results: ["from": .string(from.description), "to": .string(to.description), "productIds": strings(products)])
            p.followUps = [effect(s, .suspend(productIds: products, from: from, to: to))]
            return p

        case .reconnection(let on):
            guard let open = facts.openSuspension else {
                return Progress(.turnDown(code: "notSuspended", reason: "El contrato no tiene una suspensión en curso"))
            }
            let day = max(on ?? today, today)
            if day.adding(days: -1) > open.from.adding(months: 4) {
                // A later reconnection prolongs the suspension: four months at most, as when it was asked.
                return Progress(.turnDown(
                    code: "suspensionTooLong", reason: "Reconectar el \(day) alargaría la suspensión más allá del \(open.from.adding(months: 4))"))
            }
            var p = Progress(results: [
                "suspension": .string(open.requestId), "on": .string(day.description),
                // Seed D, step 8.2: the pending invoices are collected.
                "pendingProformas": strings(facts.unpaid.map(\.id)),
            ])
            p.followUps = [effect(s, .reconnect(on: day))]
            return p

        case .damage(let productId, let fault, _, _):
            if facts.product(productId)?.product.type == .internet {
                return Progress(.wait(.diagnosis), results: ["productId": .string(productId), "productType": "internet"])
            }
            var p = Progress(results: ["productId": .string(productId), "sentTo": "priority"])
            p.events = [damage(s, productId: productId, fault: fault, facts: facts)]
            return p

        case .billingClaim(let month, _):
            switch facts.claims.last(where: { $0.month == month }) {
            case let claim? where claim.status == "attended":
                // F step 4: inform the resolution; the client's satisfaction decides.
                return Progress(.wait(.clientDecision), results: ["resolution": .string(claim.resolution ?? ""), "claim": .string(claim.requestId)])
            case let claim?:
                // F step 6: urgent follow-up with UTAR; the client will be called back.
                return Progress(.done, results: ["urgentFollowUp": .string(claim.requestId)], interaction: "seguimiento urgente con UTAR")
            case nil:
                var p = Progress(.wait(.claimResolution), results: ["routedTo": "UTAR"], interaction: "reclamo registrado y derivado a UTAR")
                p.followUps = [effect(s, .registerClaim(month: month))]
                return p
            }

        case .callDetail(let lineId, let carrier, let months):
            let price = PostSalePrices.callDetail(carrier: carrier, months: months, current: YearMonth(s.receivedAt))
            var p = Progress(results: [
                "lineId": .string(lineId), "carrier": .string(carrier.rawValue), "months": strings(months.map(\.description)),
                "charged": .number(Double(price.amount.minor)),
            ])
            if price.amount.minor > 0 {
                p.events = [
                    fee(s, productId: lineId, amount: price.amount,
                        reason: "Detalle de llamadas salientes COMTECO: \(price.charged.map(\.description).joined(separator: ", "))")
                ]
            }
            return p

        case .withdrawal(let ids, let requestDate, _):
            let inside = facts.minimumPermanenceUntil.map { requestDate <= $0 } ?? false
            var results: JSONObject = [
                "productIds": strings(ids), "requestDate": .string(requestDate.description),
                "insideMinimumPermanence": .bool(inside), "claims": .number(Double(facts.claims.count)),
            ]
            if inside, let penalty = facts.earlyTerminationPenalty {
                results["penalty"] = ["minor": .number(Double(penalty.minor)), "currency": .string(penalty.currency.rawValue)]
            }
            return Progress(.wait(inside ? .penaltyDecision : .retention), results: results)

        case .collection(let month, let promisedBy):
            let debt = facts.unpaid
            var perProduct: JSONObject = [:]
            for proforma in debt {
                for line in proforma.lines {
                    let key = line.productId ?? "otros"
                    let so = perProduct[key].flatMap { if case .number(let n) = $0 { n } else { nil } } ?? 0
                    perProduct[key] = .number(so + Double(line.amount.minor))
                }
            }
            let results: JSONObject = [
                "month": .string(month.description), "pendingProformas": strings(debt.map(\.id)), "pendingByProduct": .object(perProduct),
            ]
            guard !debt.isEmpty else { return Progress(.done, results: results, interaction: "proforma enviada; sin deuda pendiente") }
            guard let promisedBy else { return Progress(.done, results: results, interaction: "llamada de cobranza realizada") }
            var p = Progress(.wait(.promisedPayment), results: results.merging(["promisedBy": .string(promisedBy.description)]) { $1 },
                             interaction: "el cliente se compromete a pagar hasta el \(promisedBy)")
            p.followUps = [effect(s, .trackCollection)]
            p.timers = [.set(Request.recheckTimer, at: context.now.addingTimeInterval(7 * 86_400))]
            return p

        case .loyaltyCall(let productId, let fault):
            guard let productId, let fault else { return Progress(.done, interaction: "llamada de fidelización: servicios funcionando") }
            return problem(s, productId: productId, fault: fault, facts: facts)

        case .preventiveCheck(let productId, let finding, _):
            switch finding {
            case .none: return Progress(.done, results: ["finding": "none"], interaction: "revisión preventiva sin observaciones")
            case .upsell: return Progress(.done, results: ["finding": "upsell", "proposal": "sent"], interaction: "propuesta comercial enviada")
            case .fiberMigration: return Progress(.wait(.feasibility), results: ["finding": "fiberMigration"])
            case .problem:
                return problem(s, productId: productId!, fault: "problema detectado en revisión preventiva", facts: facts)
            }

        case .supportVisit:
            return Progress(.wait(.diagnosis))
        }
    }

    /// A problem on a product: internet is diagnosed remotely first; the rest goes to the
    /// repeated-damage service at once.
    static func problem(_ s: Request.State, productId: String, fault: String, facts: Contract.State) -> Progress {
        if facts.product(productId)?.product.type == .internet {
            return Progress(.wait(.diagnosis), results: ["productId": .string(productId), "productType": "internet"])
        }
        var p = Progress(.done, results: ["productId": .string(productId), "sentTo": "priority"])
        p.events = [damage(s, productId: productId, fault: fault, facts: facts)]
        return p
    }

    // MARK: Later steps

    /// The progress of a request waiting at `step` on `input`; nil when the input is not what it waits for.
    static func next(_ s: Request.State, _ step: Request.Step, _ input: Request.Input, context: DecisionContext) throws(Rejection) -> Progress? {
        let tariff = Tariff.current
        let read = Requirements.read(s.flow, details: s.details, documents: s.documents, receivedIn: YearMonth(s.receivedAt))
        guard let details = read.details else { throw Rejection(.internalError, "request \(s.requestId) lost its details") }
        let today = Day(context.now)
        switch (step, input) {
        case (.feasibility, .feasibility(let c)):
            if case .transfer(let ids, _, let change, _) = details {
                guard c.feasible else {
                    return Progress(.turnDown(code: "notFeasible", reason: c.notes ?? "Sin factibilidad técnica"), interaction: "cliente informado: sin factibilidad")
                }
                var p = openWorkOrder(s, kind: .transfer, productIds: ids, description: "Instalación por traslado\(change ? " con cambio de tecnología" : "")")
                p.events.insert(fee(s, productId: ids.first, amount: tariff.transfer, reason: "Traslado de productos"), at: 0)
                p.results["feasible"] = true
                return p
            }
            // K: fiber migration.
            guard c.feasible else { return Progress(.done, results: ["feasible": false], interaction: "sin factibilidad para migrar a fibra") }
            if case .preventiveCheck(_, _, let cable?) = details {
                return Progress(.wait(.clientDecision), results: ["feasible": true, "surplusCable": .number(Double(cable.minor))])
            }
            return Progress(.done, results: ["feasible": true, "migration": "proposed"], interaction: "información de migración enviada")

        case (.fieldWork, .workOrderClosed(let e)) where e.workOrderId == s.workOrderId:
            var p = Progress(.done, results: ["workOrderClosed": .string(Wire.timestamp(e.closedAt))])
            if case .transfer(let ids, let address, let change, let technology) = details {
                // The old products stay active until the new installation is closed (C, step 8.1).
                p.followUps = [effect(s, change ? .replace(productIds: ids, address: address, technology: technology, on: today)
                                                : .move(productIds: ids, address: address, on: today))]
            }
            return p

        case (.fieldWork, .workOrderCancelled(let e)) where e.workOrderId == s.workOrderId:
            return Progress(.turnDown(code: "workOrderCancelled", reason: e.reason))

        case (.retention, .retention(let c)):
            if c.accepted { return Progress(.turnDown(code: "retained", reason: c.offer ?? "El cliente aceptó la oferta de retención"), interaction: "retenido") }
            return Progress(.wait(.equipment), results: ["retentionOffer": .string(c.offer ?? "")])

        case (.penaltyDecision, .penalty(let c)):
            guard c.accepted else {
                return Progress(.turnDown(code: "penaltyRefused", reason: "El cliente no acepta la penalidad por permanencia mínima"))
            }
            var p = Progress(.wait(.equipment), results: ["penaltyAccepted": true])
            // H step 13: the penalty the contract fixes, as a CxC (none fixed: nothing to charge).
            if case .object(let o)? = s.results["penalty"], case .number(let minor)? = o["minor"], case .string(let c)? = o["currency"],
                let currency = Currency(rawValue: c)
            {
                p.events = [
                    ChargeRequested(
                        requestId: "PEN-\(s.requestId)", amount: Money(minor: Int64(minor), currency: currency),
                        payer: Payer(name: s.customer.name, idNumber: s.customer.taxId),
                        reason: "Penalidad por retiro dentro de la permanencia mínima (contrato \(s.contractId))")
                ]
            }
            return p

        case (.equipment, .equipment(let c)):
            guard case .withdrawal(let ids, let requestDate, let reason) = details else { return nil }
            var p = Progress(.wait(.withdrawal), results: ["equipmentComplete": .bool(c.complete), "equipmentDamaged": .bool(c.damaged)])
            if !c.complete || c.damaged {
                p.events = [fee(s, productId: ids.first, amount: tariff.equipmentNotReturned, reason: "Reclamo económico: equipo \(c.complete ? "dañado" : "incompleto")\(c.notes.map { " (\($0))" } ?? "")")]
            }
            p.followUps = [effect(s, .withdraw(productIds: ids, on: requestDate, details: ["reason": .string(reason), "equipment": .string(c.notes ?? (c.complete ? "completo" : "incompleto"))]))]
            return p

        case (.withdrawal, .withdrawn):
            return Progress(.done, results: ["withdrawn": true], interaction: "equipos entregados a almacenes")

        case (.diagnosis, .diagnosis(let c)):
            if c.remoteFix {
                return Progress(.done, results: ["infundado": true, "findings": .string(c.findings)], interaction: "solucionado remotamente")
            }
            let productId: String?
            switch details {
            case .damage(let p, _, _, _): productId = p
            case .loyaltyCall(let p, _), .preventiveCheck(let p, _, _), .supportVisit(let p, _): productId = p
            default: productId = nil
            }
            if case .supportVisit = details {
                // L, steps 5–7: a scheduled visit and its "Servicio de Ingeniería" OT.
                var p = openWorkOrder(s, kind: .visit, productIds: productId.map { [$0] } ?? [], description: "Servicio de Ingeniería: visita de soporte técnico")
                p.results["findings"] = .string(c.findings)
                return p
            }
            var fault = c.findings
            if case .damage(_, let f, _, _) = details { fault = f }
            var p = Progress(.done, results: ["findings": .string(c.findings), "sentTo": "priority"])
            if let productId { p.events = [damage(s, productId: productId, fault: fault, facts: nil)] }
            return p

        case (.claimResolution, .claimResolution(let c)):
            var p = Progress(.wait(.clientDecision), results: ["resolution": .string(c.resolution)], interaction: "resolución de UTAR informada")
            p.followUps = [effect(s, .resolveClaim(resolution: c.resolution))]
            return p

        case (.clientDecision, .clientDecision(let c)):
            if case .preventiveCheck(_, _, let cable?) = details {
                var p = Progress(.done, results: ["surplusCableAccepted": .bool(c.accepted)])
                if c.accepted { p.events = [fee(s, productId: nil, amount: cable, reason: "Cable excedente por migración a fibra")] }
                return p
            }
            if c.accepted { return Progress(.done, results: ["satisfied": true], interaction: "cliente conforme con la resolución") }
            // F step 5: unsatisfied → back to UTAR, and round again.
            var escalations = 0.0
            if case .number(let n)? = s.results["escalations"] { escalations = n }
            return Progress(.wait(.claimResolution), results: ["escalations": .number(escalations + 1)], interaction: "inconformidad escalada a UTAR")

        case (.promisedPayment, .recheck):
            // I, step 6: the weekly re-check of a promised payment; the facts decide.
            var p = Progress(.wait(.promisedPayment), interaction: "revisión semanal de pago comprometido")
            p.timers = [.set(Request.recheckTimer, at: context.now.addingTimeInterval(7 * 86_400))]
            p.followUps = [.to(Contract.self, s.contractId, .refresh(requestId: s.requestId))]
            return p

        default:
            return nil
        }
    }
}
