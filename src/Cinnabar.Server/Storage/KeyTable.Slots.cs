using Cinnabar.Server.Cluster;

namespace Cinnabar.Server.Storage;

/// <summary>
/// Cluster mode's per-slot view of a key table (what Redis 7.0 keeps in each dictEntry's metadata): a count per
/// slot and a doubly linked list of the entries of each slot, in arrays parallel to the entries, so
/// COUNTKEYSINSLOT is a lookup and GETKEYSINSLOT or emptying a slot visits only that slot's keys. Standalone
/// servers do not pay for it.
/// </summary>
public sealed partial class KeyTable
{
    /// <summary>Set once at startup when cluster-enabled is yes: every table made afterwards indexes slots.</summary>
    public static bool TrackSlots;

    readonly SlotIndex slots;

    public bool TracksSlots => slots != null;

    public int CountInSlot(int slot) => slots?.Counts[slot] ?? 0;

    /// <summary>Entry indexes of up to <paramref name="max"/> keys in the slot, most recently added first.</summary>
    public IEnumerable<int> EntriesInSlot(int slot, long max = long.MaxValue)
    {
        if (slots == null) yield break;
        for (int i = slots.Heads[slot] - 1; i >= 0 && max-- > 0; i = slots.Next[i] - 1) yield return i;
    }

    sealed class SlotIndex
    {
        public readonly int[] Counts = new int[ClusterView.SlotCount];
        public readonly int[] Heads = new int[ClusterView.SlotCount];   // entry index + 1; 0 = empty
        public int[] Next = new int[16], Prev = new int[16];           // per entry, index + 1; 0 = none

        public void Link(int index, byte[] key, int capacity)
        {
            if (Next.Length < capacity)
            {
                Array.Resize(ref Next, capacity);
                Array.Resize(ref Prev, capacity);
            }
            int slot = KeySlot.Of(key);
            int head = Heads[slot];
            Next[index] = head;
            Prev[index] = 0;
            if (head != 0) Prev[head - 1] = index + 1;
            Heads[slot] = index + 1;
            Counts[slot]++;
        }

        public void Unlink(int index, byte[] key)
        {
            int slot = KeySlot.Of(key);
            int next = Next[index], prev = Prev[index];
            if (prev != 0) Next[prev - 1] = next;
            else Heads[slot] = next;
            if (next != 0) Prev[next - 1] = prev;
            Counts[slot]--;
        }
    }
}
