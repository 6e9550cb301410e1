using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Cinnabar.Server.Cluster;

/// <summary>
/// The open slots of a node (migrating_slots_to / importing_slots_from entries that are set), found without looking
/// at all 16384 entries one by one: nodes.conf and the routing view are rebuilt after every CLUSTER SETSLOT of a
/// resharding, and almost every entry is null.
/// </summary>
static class OpenSlots
{
    /// <summary>
    /// The first slot at or after <paramref name="from"/> with a node set, or -1. The array's references are scanned
    /// as machine words against zero (vectorized); null is zero whatever the GC does, and a set entry is read again
    /// as a reference by the caller.
    /// </summary>
    public static int Next(ClusterNode[] perSlot, int from)
    {
        if (from >= perSlot.Length) return -1;
        ref nint first = ref Unsafe.As<ClusterNode, nint>(ref MemoryMarshal.GetArrayDataReference(perSlot));
        var words = MemoryMarshal.CreateReadOnlySpan(ref first, perSlot.Length);
        int i = words[from..].IndexOfAnyExcept((nint)0);
        return i < 0 ? -1 : from + i;
    }
}
