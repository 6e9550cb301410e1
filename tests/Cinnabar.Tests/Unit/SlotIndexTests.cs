using System.Text;
using Cinnabar.Server.Cluster;
using Cinnabar.Server.Storage;
using Xunit;

namespace Cinnabar.Tests.Unit;

/// <summary>The per-slot key index of cluster mode against a model, through adds, removals and table growth.</summary>
public sealed class SlotIndexTests
{
    [Fact]
    public void CountsAndListsFollowEveryAddAndRemove()
    {
        var r = new Random(5);
        var table = new KeyTable(trackSlots: true);
        var model = new Dictionary<string, int>();
        for (int step = 0; step < 20000; step++)
        {
            string key = $"{{t{r.Next(40)}}}k{r.Next(3000)}";
            int i = table.Find(Encoding.ASCII.GetBytes(key));
            if (i >= 0 && r.Next(3) == 0) { table.RemoveAt(i); model.Remove(key); }
            else if (i < 0) { table.Add(Encoding.ASCII.GetBytes(key), new byte[] { 1 }); model[key] = KeySlot.Of(Encoding.ASCII.GetBytes(key)); }
        }
        foreach (var group in model.GroupBy(kv => kv.Value))
        {
            Assert.Equal(group.Count(), table.CountInSlot(group.Key));
            var listed = table.EntriesInSlot(group.Key).Select(i => Encoding.ASCII.GetString(table.At(i).Key)).OrderBy(k => k);
            Assert.Equal(group.Select(kv => kv.Key).OrderBy(k => k), listed);
        }
        Assert.Equal(model.Count, Enumerable.Range(0, ClusterView.SlotCount).Sum(table.CountInSlot));
        Assert.Equal(0, new KeyTable(trackSlots: false).CountInSlot(0));
    }
}
