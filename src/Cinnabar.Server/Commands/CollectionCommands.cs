using Cinnabar.Server.Network;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>The first list command (RPUSH); the full family arrives with step 2.</summary>
public static class CollectionCommands
{
    public static void Register(CommandTable t)
    {
        t.Register("rpush", RPush);
    }

    static void RPush(Client c)
    {
        var key = c.Arg(1);
        var v = Keyspace.LookupWrite(c, key);
        if (v != null && v is not ListValue) { c.WrongType(); return; }
        var list = (ListValue)v;
        long before = list?.Cost ?? 0;
        if (list == null)
        {
            list = new ListValue();
            c.Db.Add(c.ArgBytes(1), list);
            before = list.Cost;
        }
        for (int i = 2; i < c.ArgCount; i++) list.Items.Add(c.ArgBytes(i));
        c.Db.Resized(before, list);
        Keyspace.Modified(c, key);
        c.Reply.Integer(list.Items.Count);
    }
}
