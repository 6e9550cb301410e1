using Cinnabar.Server.Storage;
using Xunit;

namespace Cinnabar.Tests.Unit;

/// <summary>The chunked list against a plain List&lt;byte[]&gt; model under random operations.</summary>
public sealed class ListValueTests
{
    static byte[] RandomValue(Random r, int step)
    {
        int len = r.Next(100) switch
        {
            < 60 => r.Next(0, 8),
            < 90 => r.Next(8, 200),
            < 98 => r.Next(200, 3000),
            _ => r.Next(3000, 20000),
        };
        var v = new byte[len];
        r.NextBytes(v);
        if (len > 0) v[0] = (byte)(step % 7);    // some equal values for LREM/LINSERT pivots
        if (len <= 2 && r.Next(2) == 0) v = new[] { (byte)'x' };
        return v;
    }

    static void AssertSame(List<byte[]> model, ListValue list)
    {
        Assert.Equal(model.Count, list.Count);
        if (model.Count == 0) return;
        long i = 0;
        var cur = new ListValue.Cursor(list, 0);
        for (; i < model.Count; i++)
        {
            Assert.True(cur.Current.SequenceEqual(model[(int)i]), $"element {i} differs");
            if (i + 1 < model.Count) cur.MoveNext();
        }
        Assert.True(list.Front.SequenceEqual(model[0]));
        Assert.True(list.Back.SequenceEqual(model[^1]));
        for (int k = 0; k < 5; k++)
        {
            int idx = Random.Shared.Next(model.Count);
            Assert.True(list.Get(idx).SequenceEqual(model[idx]));
        }
        long chunkTotal = 0;
        for (int c = 0; c < list.ChunkCount; c++)
        {
            Assert.True(list.ChunkAt(c).Count > 0, "empty chunk left in the ring");
            chunkTotal += list.ChunkAt(c).Count;
        }
        Assert.Equal(model.Count, chunkTotal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void RandomOperationsMatchModel(int seed)
    {
        var r = new Random(seed);
        var model = new List<byte[]>();
        var list = new ListValue();
        for (int step = 0; step < 6000; step++)
        {
            int op = r.Next(100);
            // phases that grow and shrink the list
            bool growing = (step / 1000) % 2 == 0;
            if (op < (growing ? 30 : 15))
            {
                var v = RandomValue(r, step);
                list.PushBack(v); model.Add(v);
            }
            else if (op < (growing ? 60 : 30))
            {
                var v = RandomValue(r, step);
                list.PushFront(v); model.Insert(0, v);
            }
            else if (op < 70)
            {
                if (model.Count == 0) continue;
                if (r.Next(2) == 0) { Assert.True(list.Front.SequenceEqual(model[0])); list.RemoveFront(); model.RemoveAt(0); }
                else { Assert.True(list.Back.SequenceEqual(model[^1])); list.RemoveBack(); model.RemoveAt(model.Count - 1); }
            }
            else if (op < 75)
            {
                int n = r.Next(0, Math.Min(model.Count, 50) + 1);
                if (r.Next(2) == 0) { list.RemoveFront(n); model.RemoveRange(0, n); }
                else { list.RemoveBack(n); model.RemoveRange(model.Count - n, n); }
            }
            else if (op < 85)
            {
                if (model.Count == 0) continue;
                int idx = r.Next(model.Count);
                bool after = r.Next(2) == 0;
                var v = RandomValue(r, step);
                list.Locate(idx, out int ci, out int e);
                list.Insert(ci, e, after, v);
                model.Insert(after ? idx + 1 : idx, v);
            }
            else if (op < 92)
            {
                if (model.Count == 0) continue;
                int idx = r.Next(model.Count);
                var v = r.Next(3) == 0 ? (byte[])model[idx].Clone() : RandomValue(r, step);
                if (v.Length > 0 && r.Next(2) == 0) v[^1] ^= 1;
                list.Set(idx, v);
                model[idx] = v;
            }
            else if (op < 97)
            {
                var target = r.Next(2) == 0 ? new[] { (byte)'x' } : (model.Count > 0 ? model[r.Next(model.Count)] : new byte[] { 1 });
                long limit = r.Next(4);
                bool fromTail = r.Next(2) == 0;
                long removed = list.RemoveEqual(target, limit, fromTail);
                long expected = 0;
                long max = limit == 0 ? long.MaxValue : limit;
                if (!fromTail)
                {
                    for (int i = 0; i < model.Count && expected < max;)
                        if (model[i].AsSpan().SequenceEqual(target)) { model.RemoveAt(i); expected++; } else i++;
                }
                else
                {
                    for (int i = model.Count - 1; i >= 0 && expected < max; i--)
                        if (model[i].AsSpan().SequenceEqual(target)) { model.RemoveAt(i); expected++; }
                }
                Assert.Equal(expected, removed);
            }
            else
            {
                var copy = (ListValue)list.Clone();
                AssertSame(model, copy);
            }
            if (step % 50 == 0) AssertSame(model, list);
            Assert.True(list.Cost > 0);
        }
        AssertSame(model, list);
    }

    [Fact]
    public void BigElementsInTheMiddleSplitNodesAsQuicklistDoes()
    {
        var list = new ListValue();
        for (int i = 0; i < 1000; i++) list.PushBack(new[] { (byte)(i % 251) });
        Assert.Equal(1, list.ChunkCount);       // 1000 two-byte entries: one 8 KiB node
        list.Locate(500, out int ci, out int e);
        // The node cannot take 20000 more bytes: _quicklistInsert splits it, the new element ends the first half.
        list.Insert(ci, e, false, new byte[20000]);
        Assert.Equal(2, list.ChunkCount);
        Assert.Equal(501, list.ChunkAt(0).Count);
        Assert.Equal(20000, list.Get(500).Length);
        // LSET rewrites elements inside their node (quicklistReplaceEntry): no new nodes
        list.Set(500, new byte[] { 9 });
        list.Set(501, new byte[30000]);
        Assert.Equal(2, list.ChunkCount);
        Assert.Equal(1001, list.Count);
        Assert.Equal(30000, list.Get(501).Length);
        Assert.True(list.Get(500).SequenceEqual(new byte[] { 9 }));
    }

    [Fact]
    public void RemovalsGiveMemoryBack()
    {
        var list = new ListValue();
        var keep = new byte[] { 7 };
        var drop = new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 };
        for (int i = 0; i < 100_000; i++) list.PushBack(i % 50 == 0 ? keep : drop);
        long full = list.Cost;
        Assert.Equal(98_000, list.RemoveEqual(drop, 0, fromTail: i_fromTail()));
        Assert.Equal(2_000, list.Count);
        Assert.True(list.Cost * 10 < full, $"cost {list.Cost} of {full}");
        for (long i = 0; i < list.Count; i++) Assert.True(list.Get(i).SequenceEqual(keep));
        static bool i_fromTail() => false;
    }

    [Fact]
    public void QueueAndStackPatternsKeepChunksFull()
    {
        var list = new ListValue();
        var v = new byte[] { 1, 2, 3 };
        for (int i = 0; i < 200_000; i++) list.PushFront(v);
        for (int i = 0; i < 150_000; i++) list.RemoveBack();
        for (int i = 0; i < 100_000; i++) { list.PushBack(v); list.RemoveFront(); }
        Assert.Equal(50_000, list.Count);
        // 3-byte elements: about 7 bytes each with the boundary; allow generous slack for partly-filled chunks.
        Assert.True(list.Cost < 50_000 * 16, $"cost {list.Cost}");
        for (int i = 0; i < 100_000; i++) { if (i % 2 == 0) list.PushBack(v); else list.PushFront(v); }
        Assert.Equal(150_000, list.Count);
        Assert.True(list.Cost < 150_000 * 16, $"cost {list.Cost}");
    }
}
