import Foundation
import PostSale
import Runtime

// The post-sale service: enterprise contracts and the flows A–L (GC-PRC-OPE-ASE-04). Configuration: see README.
if let tariff = ProcessInfo.processInfo.environment["POSTSALE_TARIFF"] {
    do { _ = try Tariff.parse(tariff) } catch {
        FileHandle.standardError.write(Data("postsale: POSTSALE_TARIFF is not a valid tariff: \(error)\n".utf8))
        exit(2)
    }
}
try await PlatformService.run(PostSaleService.definition)
