using Cinnabar.Server.Commands;
using Cinnabar.Server.Network;
using Cinnabar.Server.Protocol;

namespace Cinnabar.Server;

/// <summary>Where propagated commands go: the AOF now, the replication stream later.</summary>
public interface IPropagationSink
{
    /// <summary>One command (a complete RESP array) to run against <paramref name="db"/>; the sink emits SELECT itself when the db differs from the last it emitted (db -1: no SELECT, as for EXEC).</summary>
    void Feed(int db, ReadOnlySpan<byte> command);
}

[Flags]
public enum PropagateTarget : byte { None = 0, Aof = 1, Repl = 2, All = 3 }

/// <summary>
/// Command propagation as Redis 7.0's call()/alsoPropagate()/propagatePendingCommands() do it: every execution
/// unit (a command from a client, a served blocked client, an eviction, an active expiry) collects the commands
/// that reproduce its effects; at the end of the unit they go out in order, wrapped in MULTI/EXEC when there is
/// more than one. A command that changed the dataset (dirty counter went up) is propagated as received unless it
/// rewrote its own vector (SET EX → SET PXAT, BLPOP → LPOP, ...) or prevented its own propagation (EVAL, SPOP
/// with a count) in favour of other commands it propagated explicitly.
/// </summary>
/// <remarks>
/// Lives in Server/ next to the command pipeline, because it is the pipeline's back end (server.c in Redis);
/// the AOF (Persistence/) and later replication (Replication/) only implement <see cref="IPropagationSink"/>.
/// When no sink is active <see cref="Enabled"/> is false and the pipeline skips all of this, so a command costs
/// nothing extra; when on, commands are encoded straight into one reused buffer (no allocation per command).
/// </remarks>
public sealed class Propagator
{
    readonly CinnabarServer server;

    /// <summary>True when some sink wants the stream; checked by the pipeline and by commands before rewriting.</summary>
    public bool Enabled;
    public IPropagationSink Aof;
    public IPropagationSink Replication;

    // The pending commands of the current execution unit (Redis's server.also_propagate), RESP-encoded.
    readonly RespBuffer pending = new(4096);
    int[] opStart = new int[16];
    int[] opDb = new int[16];
    PropagateTarget[] opTarget = new PropagateTarget[16];
    int opCount;

    // One frame per nested call() (a client command, a command inside EXEC or a script).
    struct Frame
    {
        public long Dirty;
        public int RewriteBase;
        public bool Rewritten, Prevent;
        public PropagateTarget Force, Allowed;
    }
    Frame[] frames = new Frame[8];
    int depth;
    readonly RespBuffer rewrites = new(1024);

    static readonly byte[] Multi = "*1\r\n$5\r\nMULTI\r\n"u8.ToArray();
    static readonly byte[] Exec = "*1\r\n$4\r\nEXEC\r\n"u8.ToArray();

    public Propagator(CinnabarServer server) => this.server = server;

    public int Depth => depth;

    public void UpdateEnabled() => Enabled = Aof != null || Replication != null;

    // ------------------------------------------------------------------ call frames

    /// <summary>call(): <paramref name="allowed"/> narrows where the command may go (a script's redis.set_repl).</summary>
    public void BeginCall(PropagateTarget allowed = PropagateTarget.All)
    {
        if (depth == frames.Length) Array.Resize(ref frames, depth * 2);
        frames[depth++] = new Frame { Dirty = server.DirtyCounter, RewriteBase = rewrites.Length, Allowed = allowed };
    }

    /// <summary>
    /// End of call(): a command that made the dataset dirty is appended to the unit (its rewritten vector if it
    /// has one), after whatever it propagated itself. EXEC and scripts are never propagated as such.
    /// </summary>
    public void EndCall(Client c, Command cmd)
    {
        if (depth == 0) return;
        ref var f = ref frames[--depth];
        var target = PropagateTarget.None;
        if (server.DirtyCounter != f.Dirty) target = PropagateTarget.All;
        target |= f.Force;
        target &= f.Allowed;
        if (target != PropagateTarget.None && !f.Prevent && !NeverPropagated(cmd))
        {
            if (f.Rewritten)
            {
                BeginOp(c.Db.Id, target);
                pending.Raw(rewrites.Buffer.AsSpan(f.RewriteBase, rewrites.Length - f.RewriteBase));
            }
            else
            {
                int argc = c.ArgCount;
                BeginOp(c.Db.Id, target);
                pending.ArrayHeader(argc);
                for (int i = 0; i < argc; i++) pending.Bulk(c.Arg(i));
            }
        }
        rewrites.Length = f.RewriteBase;
    }

    static bool NeverPropagated(Command cmd)
    {
        if (cmd == null) return false;
        var p = cmd.Parent ?? cmd;
        return p.Name is "exec" or "eval" or "evalsha" or "eval_ro" or "evalsha_ro" or "fcall" or "fcall_ro";
    }

    /// <summary>
    /// rewriteClientCommandVector: the running command will be propagated as the vector the caller now encodes
    /// (exactly <paramref name="argc"/> bulks) instead of as received. Only call when <see cref="Enabled"/>.
    /// </summary>
    public RespBuffer Rewrite(int argc)
    {
        if (depth == 0) return Scratch(argc);
        ref var f = ref frames[depth - 1];
        rewrites.Length = f.RewriteBase;
        f.Rewritten = true;
        rewrites.ArrayHeader(argc);
        return rewrites;
    }

    /// <summary>SET key value PXAT ms: every SET with an expiry, SETEX and PSETEX.</summary>
    public void RewriteSetPxat(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, long ms)
    {
        var w = Rewrite(5);
        w.Bulk("SET"u8);
        w.Bulk(key);
        w.Bulk(value);
        w.Bulk("PXAT"u8);
        w.Bulk(ms);
    }

    /// <summary>DEL key, or UNLINK key when the matching lazyfree option is on.</summary>
    public void RewriteDelete(ReadOnlySpan<byte> key, bool lazy) => RewriteKeyCommand(lazy ? "UNLINK"u8 : "DEL"u8, key);

    public void RewriteKeyCommand(ReadOnlySpan<byte> name, ReadOnlySpan<byte> key)
    {
        var w = Rewrite(2);
        w.Bulk(name);
        w.Bulk(key);
    }

    public void RewriteKeyCommand(ReadOnlySpan<byte> name, ReadOnlySpan<byte> key, long n)
    {
        var w = Rewrite(3);
        w.Bulk(name);
        w.Bulk(key);
        w.Bulk(n);
    }

    /// <summary>
    /// RESTORE with a relative TTL goes out with the absolute time and ABSTTL appended (the other options kept),
    /// so a reload or replica gives the key the same expiry. For RESTORE to call once the key is stored.
    /// </summary>
    public void RewriteRestoreAbsTtl(Client c, long absoluteMs)
    {
        var w = Rewrite(c.ArgCount + 1);
        for (int i = 0; i < c.ArgCount; i++)
        {
            if (i == 2) w.Bulk(absoluteMs);
            else w.Bulk(c.Arg(i));
        }
        w.Bulk("ABSTTL"u8);
    }

    /// <summary>preventCommandPropagation: the running command is not propagated (it propagated its effects itself).</summary>
    public void Prevent()
    {
        if (depth > 0) frames[depth - 1].Prevent = true;
    }

    /// <summary>forceCommandPropagation: propagate the running command even though it did not change the dataset.</summary>
    public void Force(PropagateTarget target)
    {
        if (depth > 0) frames[depth - 1].Force |= target;
    }

    RespBuffer scratch;
    RespBuffer Scratch(int argc)
    {
        scratch ??= new RespBuffer(256);
        scratch.Clear();
        scratch.ArrayHeader(argc);
        return scratch;
    }

    // ------------------------------------------------------------------ alsoPropagate

    void BeginOp(int db, PropagateTarget target)
    {
        if (opCount == opStart.Length)
        {
            Array.Resize(ref opStart, opCount * 2);
            Array.Resize(ref opDb, opCount * 2);
            Array.Resize(ref opTarget, opCount * 2);
        }
        opStart[opCount] = pending.Length;
        opDb[opCount] = db;
        opTarget[opCount] = target;
        opCount++;
    }

    /// <summary>
    /// alsoPropagate: adds a command to the current unit; the caller encodes exactly <paramref name="argc"/>
    /// bulks into the returned buffer. Only call when <see cref="Enabled"/>.
    /// </summary>
    public RespBuffer Also(int db, int argc, PropagateTarget target = PropagateTarget.All)
    {
        BeginOp(db, target);
        pending.ArrayHeader(argc);
        return pending;
    }

    /// <summary>propagateDeletion: DEL (or UNLINK when the matching lazyfree option is on) of an expired or evicted key.</summary>
    public void AlsoDelete(int db, ReadOnlySpan<byte> key, bool lazy)
    {
        var w = Also(db, 2);
        w.Bulk(lazy ? "UNLINK"u8 : "DEL"u8);
        w.Bulk(key);
    }

    // ------------------------------------------------------------------ propagatePendingCommands

    /// <summary>
    /// End of an execution unit: sends its commands to the sinks, wrapped in MULTI/EXEC (MULTI in the first
    /// command's db) when there are several, unless <paramref name="noMulti"/> (active expiry).
    /// </summary>
    public void PropagatePending(bool noMulti = false)
    {
        if (opCount == 0 || depth > 0) return;
        bool wrap = opCount > 1 && !noMulti;
        if (wrap) Feed(opDb[0], Multi, PropagateTarget.All);
        for (int i = 0; i < opCount; i++)
        {
            int end = i + 1 < opCount ? opStart[i + 1] : pending.Length;
            Feed(opDb[i], pending.Buffer.AsSpan(opStart[i], end - opStart[i]), opTarget[i]);
        }
        if (wrap) Feed(-1, Exec, PropagateTarget.All);   // no SELECT before EXEC
        opCount = 0;
        pending.Clear();
        pending.Shrink(4096);
    }

    /// <summary>Drops what the unit collected (used while loading, where nothing propagates).</summary>
    public void DiscardPending()
    {
        opCount = 0;
        pending.Clear();
    }

    /// <summary>propagateNow: the single place every propagated command goes through, with its db.</summary>
    void Feed(int db, ReadOnlySpan<byte> command, PropagateTarget target)
    {
        if ((target & PropagateTarget.Aof) != 0) Aof?.Feed(db, command);
        if ((target & PropagateTarget.Repl) != 0) Replication?.Feed(db, command);
    }
}
