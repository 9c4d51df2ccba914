import Contracts
import Runtime

/// The post-sale service: enterprise contracts and their products, and the twelve post-sale flows
/// A–L of GC-PRC-OPE-ASE-04 as one request state machine with each flow's rules.
public enum PostSaleService {
    public static let routes = Routes { r in
        let contract = PostSaleContract.self
        let request = PostSaleRequest.self
        r.on(RegisterContract.self) { c, _ in [.to(contract, c.contractId, .register(c))] }
        // Screened against its contract first: the contract's facts go to the request's decision.
        r.on(RequestPostSale.self) { c, m in
            [.to(contract, c.contractId, .screen(c, requestId: request.id(for: c, messageId: m.id)))]
        }
        r.on(CompletePostSaleRequirements.self) { c, _ in [.to(request, c.requestId, .complete(c))] }
        r.on(AbandonPostSale.self) { c, _ in [.to(request, c.requestId, .abandon(c))] }
        r.on(RecordFeasibility.self) { c, _ in [.to(request, c.requestId, .feasibility(c))] }
        r.on(RecordRetention.self) { c, _ in [.to(request, c.requestId, .retention(c))] }
        r.on(RecordPenaltyDecision.self) { c, _ in [.to(request, c.requestId, .penalty(c))] }
        r.on(RecordEquipment.self) { c, _ in [.to(request, c.requestId, .equipment(c))] }
        r.on(RecordDiagnosis.self) { c, _ in [.to(request, c.requestId, .diagnosis(c))] }
        r.on(RecordClientDecision.self) { c, _ in [.to(request, c.requestId, .clientDecision(c))] }
        r.on(RecordClaimResolution.self) { c, _ in [.to(request, c.requestId, .claimResolution(c))] }
        r.on(RecordPostSaleQualityCheck.self) { c, _ in [.to(request, c.requestId, .qualityCheck(c))] }
        // The OTs post-sale opened: their request waits for them, and so may a withdrawal.
        r.on(WorkOrderClosed.self) { e, _ in
            [.to(request, alias: e.workOrderId, .workOrderClosed(e)), .to(contract, alias: e.workOrderId, .workOrderEnded(workOrderId: e.workOrderId))]
        }
        r.on(WorkOrderCancelled.self) { e, _ in
            [.to(request, alias: e.workOrderId, .workOrderCancelled(e)), .to(contract, alias: e.workOrderId, .workOrderEnded(workOrderId: e.workOrderId))]
        }
        // Accounts up to date (D) and collections (I) follow billing's proformas.
        r.on(ProformaIssued.self) { e, _ in [.to(contract, e.contractId, .proformaIssued(e))] }
        r.on(ProformaPaid.self) { e, _ in [.to(contract, e.contractId, .proformaPaid(e))] }
    }

    public static let definition = ServiceDefinition(
        name: "postsale", routes: routes, aggregates: [PostSaleContract.self, PostSaleRequest.self], migrations: PostSaleMigrations.all)
}
