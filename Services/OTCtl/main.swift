// otctl: the OT Platform's operator tool — send commands, watch the buses, inspect and replay
// dead letters, print the AsyncAPI document and the broker definitions. See `otctl --help`.
import ArgumentParser

/// Parses the command line and runs the chosen subcommand asynchronously. (In main.swift a bare
/// `OTCtl.main()` resolves to ArgumentParser's synchronous entry point, which refuses async
/// commands.)
func runAsync<Root: AsyncParsableCommand>(_: Root.Type) async {
    do {
        var command = try await Root.asyncParseAsRoot()
        if var asyncCommand = command as? any AsyncParsableCommand {
            try await asyncCommand.run()
        } else {
            try command.run()
        }
    } catch {
        Root.exit(withError: error)
    }
}

await runAsync(OTCtl.self)
