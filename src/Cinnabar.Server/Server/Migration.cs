using Cinnabar.Server.Commands;

namespace Cinnabar.Server;

/// <summary>Slot migration's server state: MIGRATE's cached connections (closed by the cron after 10 s idle).</summary>
public sealed partial class CinnabarServer
{
    public readonly MigrateSockets MigrateSockets = new();
}
