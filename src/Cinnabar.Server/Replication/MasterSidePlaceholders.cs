using Cinnabar.Server.Network;

namespace Cinnabar.Server.Replication;

/// <summary>
/// Stand-ins for the master side of replication (built separately, in ReplicationMaster): ROLE's replica list and
/// WAIT on a master. Delete this file when the master side is merged; it defines both.
/// </summary>
public sealed partial class ReplicationState
{
    /// <summary>ROLE's third element on a master: the online replicas (none without the master side).</summary>
    public void WriteRoleReplicas(Client c) => c.Reply.EmptyArray();

    /// <summary>WAIT on a master: without the master side no replica ever acknowledges.</summary>
    public void WaitAsMaster(Client c)
    {
        if (!c.TryArgLong(1, out _)) return;
        if (!Protocol.Numbers.TryParseInt64(c.Arg(2), out long timeout))
        {
            c.Error("ERR timeout is not an integer or out of range");
            return;
        }
        if (timeout < 0)
        {
            c.Error("ERR timeout is negative");
            return;
        }
        c.Reply.Integer(0);
    }
}
