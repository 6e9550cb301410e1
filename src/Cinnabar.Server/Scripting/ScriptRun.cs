using System.Diagnostics;
using Cinnabar.Server.Network;
using Cinnabar.Server.Scripting.Lua;

namespace Cinnabar.Server.Scripting;

[Flags]
public enum ScriptFlags
{
    None = 0,
    NoWrites = 1,
    AllowOom = 2,
    AllowStale = 4,
    NoCluster = 8,
    AllowCrossSlotKeys = 16,
    /// <summary>An EVAL script without a shebang: the pre-7.0 rules apply.</summary>
    EvalCompat = 1 << 16,
}

/// <summary>scripts_flags_def: the flag names of shebangs and redis.register_function, in Redis's order.</summary>
public static class ScriptFlagsInfo
{
    public static readonly (ScriptFlags flag, string name)[] All =
    {
        (ScriptFlags.NoWrites, "no-writes"),
        (ScriptFlags.AllowOom, "allow-oom"),
        (ScriptFlags.AllowStale, "allow-stale"),
        (ScriptFlags.NoCluster, "no-cluster"),
        (ScriptFlags.AllowCrossSlotKeys, "allow-cross-slot-keys"),
    };

    public static ScriptFlags? Parse(string s, bool ignoreCase)
    {
        foreach (var (flag, name) in All)
            if (string.Equals(name, s, ignoreCase ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal)) return flag;
        return null;
    }
}

/// <summary>KEYS and ARGV of a script or function call: views of the caller's arguments, not copies.</summary>
public readonly struct ScriptArgs(Client caller, int firstKey, int keyCount)
{
    public int KeyCount => keyCount;
    public int ArgCount => caller.ArgCount - firstKey - keyCount;
    public ReadOnlySpan<byte> Key(int i) => caller.Arg(firstKey + i);
    public ReadOnlySpan<byte> Arg(int i) => caller.Arg(firstKey + keyCount + i);
}

/// <summary>scriptRunCtx: one running script or function.</summary>
public sealed class ScriptRun
{
    public Client Caller;
    public LuaEngine Engine;
    public string Name;            // the script's sha, or the function's name
    public bool IsEval;
    public bool ReadOnly;
    public bool AllowOom;
    public bool Oom;               // memory was over maxmemory when the script started
    public long StartTicks;
    public bool TimedOut, Killed, WriteDirty;
    public string KilledAt;        // "source:line" where SCRIPT KILL stopped it
    public int ReplFlags;
    public int ClusterSlot;        // the slot the script's keys are in so far (-1: none yet)
    public bool AllowCrossSlot;

    public void Start(Client caller, LuaEngine engine, string name, bool isEval, bool readOnly, bool allowOom, bool oom)
    {
        Caller = caller;
        Engine = engine;
        Name = name;
        IsEval = isEval;
        ReadOnly = readOnly;
        AllowOom = allowOom;
        Oom = oom;
        StartTicks = Stopwatch.GetTimestamp();
        TimedOut = Killed = WriteDirty = false;
        KilledAt = null;
        ReplFlags = 3;
        ClusterSlot = caller.ClusterSlot;
    }

    public long ElapsedMs => (Stopwatch.GetTimestamp() - StartTicks) * 1000 / Stopwatch.Frequency;
}
